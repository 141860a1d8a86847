package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeInit returns the README's recommended 'dhub init' command as
// arguments, its placeholders filled with values of their kind.
func readmeInit(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "dhub init --target azure --profile recommended")
	if i < 0 {
		t.Fatal("the README shows no recommended 'dhub init' command")
	}
	var cmd []string
	for _, line := range strings.Split(text[i:], "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		more := strings.HasSuffix(line, `\`)
		cmd = append(cmd, strings.Fields(strings.TrimSuffix(line, `\`))...)
		if !more {
			break
		}
	}
	fill := map[string]string{"<guid>": "11111111-2222-3333-4444-555555555555", "<group-guid>": "66666666-7777-8888-9999-aaaaaaaaaaaa"}
	for i, a := range cmd {
		if v, ok := fill[a]; ok {
			cmd[i] = v
		} else if regexp.MustCompile(`^<.*>$`).MatchString(a) {
			t.Fatalf("the README's init command has a placeholder this test cannot fill: %s", a)
		}
	}
	return cmd[1:] // without "dhub"
}

// The README's recommended init command, with real ids, writes a file
// that validate accepts.
func TestReadmeInitCommandValidates(t *testing.T) {
	args := readmeInit(t)
	file := filepath.Join(t.TempDir(), "dhub.yaml")
	for i, a := range args {
		if a == "-f" {
			args[i+1] = file
		}
	}
	if !strings.Contains(strings.Join(args, " "), "-f "+file) {
		t.Fatalf("the README's init command names no file with -f: %q", args)
	}
	t.Setenv("DHUB_AZUREAD_CLIENT_SECRET", "a-client-secret")
	if code, _, stderr := run(t, args...); code != 0 {
		t.Fatalf("dhub %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	if code, stdout, stderr := run(t, "validate", "-f", file); code != 0 {
		t.Errorf("validate of the README's recommended init: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestInitFlags(t *testing.T) {
	// validate reads the user password the file names.
	t.Setenv("DHUB_USER_PASSWORD", "a-shared-user-password")
	dir := t.TempDir()
	file := filepath.Join(dir, "dhub.yaml")
	// An id that would break the file is refused, and nothing is written.
	code, _, stderr := run(t, "init", "--target", "azure", "--client-id", `x"y`, "-f", file)
	if code != 1 || !strings.Contains(stderr, `client id "x\"y" is not a GUID`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a file was written for a refused id")
	}
	// Who may log in on the local target: the file names the user password.
	code, _, stderr = run(t, "init", "--allowed-users", "alice,bob", "--allowed-users", "carol", "--admins", "ops", "-f", file)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(file)
	for _, want := range []string{`allowedUsers: ["alice", "bob", "carol"]`, `admins: ["ops"]`, "userPassword: {fromEnv: DHUB_USER_PASSWORD}"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the file lacks %q:\n%s", want, b)
		}
	}
	if code, stdout, stderr := run(t, "validate", "-f", file); code != 0 {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	// Azure AD without a rule: written, with a word on who may log in.
	azure := filepath.Join(dir, "azure.yaml")
	code, _, stderr = run(t, "init", "--target", "azure", "-f", azure)
	if code != 0 || !strings.Contains(stderr, "no one may log in yet") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// --name is the hub's name; on Azure the DNS label init writes is that
// name and a random suffix, as init --help says.
func TestInitNameAndDNSLabel(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, "init", "--target", "azure", "--name", "lab-hub", "-f", "-")
	if code != 0 || !strings.Contains(stdout, "\nname: lab-hub\n") ||
		!regexp.MustCompile(`(?m)^  dnsLabel: lab-hub-[a-z0-9]{6}$`).MatchString(stdout) {
		t.Errorf("exit %d, stderr %q, want name lab-hub and dnsLabel lab-hub-<6 letters or digits>:\n%s", code, stderr, stdout)
	}
}
