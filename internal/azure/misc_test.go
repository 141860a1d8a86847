package azure_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
)

func TestResolveSubscriptionOrder(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOME": dir}
	getenv := func(k string) string { return env[k] }

	_, _, err := azure.ResolveSubscription("", getenv)
	if !errors.Is(err, azure.ErrNoSubscription) {
		t.Fatalf("none: %v", err)
	}
	for _, want := range []string{"azure.subscription", "AZURE_SUBSCRIPTION_ID", "az login"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	// The az CLI profile, with its byte order mark.
	os.MkdirAll(filepath.Join(dir, ".azure"), 0o700)
	profile := "\xef\xbb\xbf" + `{"subscriptions":[{"id":"aaaa","isDefault":false},{"id":"bbbb","isDefault":true}]}`
	os.WriteFile(filepath.Join(dir, ".azure", "azureProfile.json"), []byte(profile), 0o600)
	if s, src, err := azure.ResolveSubscription("", getenv); s != "bbbb" || src != azure.FromAzCLI || err != nil {
		t.Errorf("az CLI: %q %q %v", s, src, err)
	}
	env["AZURE_SUBSCRIPTION_ID"] = "cccc"
	if s, src, _ := azure.ResolveSubscription("", getenv); s != "cccc" || src != azure.FromEnv {
		t.Errorf("env: %q %q", s, src)
	}
	if s, src, _ := azure.ResolveSubscription("dddd", getenv); s != "dddd" || src != azure.FromConfig {
		t.Errorf("config: %q %q", s, src)
	}
}

func TestMergeKubeconfig(t *testing.T) {
	fresh := []byte(azurefake.DefaultKubeconfig)
	// No file yet.
	out, changes, err := azure.MergeKubeconfig(nil, fresh, "dhub-pangeo-hub")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "changes", changes, []string{`added cluster entry "dhub-pangeo-hub"`, `added user entry "dhub-pangeo-hub"`,
		`added context entry "dhub-pangeo-hub"`, "current-context (none) -> dhub-pangeo-hub"})
	for _, want := range []string{"kind: Config", "server: https://pangeo-hub-fake.hcp.westeurope.azmk8s.io:443", "token: fake-user-token", "current-context: dhub-pangeo-hub"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("merged lacks %q:\n%s", want, out)
		}
	}
	// The same again: nothing changes.
	again, changes, err := azure.MergeKubeconfig(out, fresh, "dhub-pangeo-hub")
	if err != nil || len(changes) != 0 || string(again) != string(out) {
		t.Errorf("second merge: %v %v", changes, err)
	}
	// A user's file keeps its other entries and comments.
	user := []byte(`# my clusters
apiVersion: v1
kind: Config
clusters:
- name: kind-lab
  cluster: {server: "https://127.0.0.1:6443"}
contexts:
- name: kind-lab
  context: {cluster: kind-lab, user: kind-lab}
users:
- name: kind-lab
  user: {token: abc}
current-context: kind-lab
`)
	out, changes, err = azure.MergeKubeconfig(user, fresh, "dhub-pangeo-hub")
	if err != nil {
		t.Fatal(err)
	}
	if changes[len(changes)-1] != "current-context kind-lab -> dhub-pangeo-hub" {
		t.Errorf("changes %v", changes)
	}
	for _, want := range []string{"# my clusters", "name: kind-lab", "https://127.0.0.1:6443", "name: dhub-pangeo-hub"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("merged lacks %q:\n%s", want, out)
		}
	}
}
