package azure_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/azure"
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
