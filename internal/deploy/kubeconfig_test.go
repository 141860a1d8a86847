package deploy

import (
	"slices"
	"strings"
	"testing"

	"dhub/internal/azure/azurefake"
)

func TestMergeKubeconfig(t *testing.T) {
	fresh := []byte(azurefake.DefaultKubeconfig)
	// No file yet.
	out, changes, err := mergeKubeconfig(nil, fresh, "dhub-pangeo-hub")
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
	again, changes, err := mergeKubeconfig(out, fresh, "dhub-pangeo-hub")
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
	out, changes, err = mergeKubeconfig(user, fresh, "dhub-pangeo-hub")
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

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
