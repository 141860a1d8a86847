package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"dhub/internal/config"
)

type initOptions struct {
	config.InitOptions
	file  string
	force bool
}

func newInitCmd(s Streams) *cobra.Command {
	o := &initOptions{}
	var target, profile string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented dhub.yaml for a target and profile",
		Long: `init writes a dhub.yaml with every decision of the Azure guide spelled out and
commented, ready to edit. Fields you delete fall back to the same defaults.

Profiles (from the guide):
  simple       one node pool (1 node, autoscaling 1..5), no HTTPS; the admin
               logs in with a password dhub generates
  recommended  core, users and Spot workers pools; HTTPS with Let's Encrypt;
               Azure AD login

Targets: local (this machine, the default), kubernetes (an existing cluster),
azure (AKS).`,
		Example: `  dhub init                                              # local target, ./dhub.yaml
  dhub init --target azure --profile simple -f dhub.yaml
  dhub init --target azure --profile recommended --name pangeo-hub \
      --email admin@example.org --tenant-id <guid> --client-id <guid> \
      --admins you@example.org --allowed-groups <group-guid>
  dhub init --allowed-users alice,bob      # local: they log in with the user password
  dhub init --target kubernetes -f -                     # print instead of writing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Target, o.Profile = config.Target(target), config.Profile(profile)
			return runInit(o, s)
		},
	}
	cmd.Flags().StringVarP(&o.file, "file", "f", "dhub.yaml", "where to write; - prints to stdout")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite an existing file")
	cmd.Flags().StringVar(&target, "target", "local", "local, kubernetes or azure")
	cmd.Flags().StringVar(&profile, "profile", "recommended", "simple or recommended")
	cmd.Flags().StringVar(&o.Name, "name", "pangeo-hub", "the hub's name: 3-63 lowercase letters, digits and '-' (target azure: the DNS label written is this name and a random suffix, e.g. pangeo-hub-x7k2p9)")
	cmd.Flags().StringVar(&o.Email, "email", "", "Let's Encrypt contact email")
	cmd.Flags().StringVar(&o.TenantID, "tenant-id", "", "Azure AD tenant id of the app registration")
	cmd.Flags().StringVar(&o.ClientID, "client-id", "", "Azure AD client id of the app registration")
	cmd.Flags().StringSliceVar(&o.AllowedUsers, "allowed-users", nil, "who may log in: user names (Azure AD: user principal names), comma-separated or repeated")
	cmd.Flags().StringSliceVar(&o.AllowedGroups, "allowed-groups", nil, "who may log in: Azure AD group object ids, comma-separated or repeated")
	cmd.Flags().StringSliceVar(&o.Admins, "admins", nil, "the hub's admins, who may log in too; comma-separated or repeated")
	cmd.Flags().BoolVar(&o.AllowAll, "allow-all", false, "let everyone log in (Azure AD: everyone in the tenant; password: anyone with the user password)")
	return cmd
}

func runInit(o *initOptions, s Streams) error {
	b, err := config.Init(o.InitOptions)
	if err != nil {
		return err
	}
	if o.file == "-" {
		_, err = s.Out.Write(b)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(o.file, flags, 0o644)
	if os.IsExist(err) {
		return fmt.Errorf("%s exists; pass --force to overwrite it", o.file)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "wrote %s (target %s, profile %s); next: edit it, then 'dhub validate -f %s'\n",
		o.file, o.Target, o.Profile, o.file)
	if o.noOneLogsIn() {
		fmt.Fprintln(s.Err, "no one may log in yet: fill hub.auth.azuread's allowedUsers, allowedGroups, admins or allowAll (or pass --allowed-users, --allowed-groups, --admins or --allow-all)")
	}
	return nil
}

// noOneLogsIn reports whether the file written uses Azure AD login with
// no rule of who may log in, which validate refuses.
func (o *initOptions) noOneLogsIn() bool {
	h := config.Hub{Name: o.Name, Target: o.Target, Profile: o.Profile}
	h.SetDefaults()
	return h.JupyterHub.Auth.Type == config.AuthAzureAD &&
		len(o.AllowedUsers)+len(o.AllowedGroups)+len(o.Admins) == 0 && !o.AllowAll
}
