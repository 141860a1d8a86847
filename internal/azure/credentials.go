package azure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"dhub/internal/azure/prices"
)

// SubscriptionSource says where a subscription id came from.
type SubscriptionSource string

// Where ResolveSubscription finds a subscription, in order.
const (
	FromConfig SubscriptionSource = "azure.subscription in dhub.yaml"
	FromEnv    SubscriptionSource = "AZURE_SUBSCRIPTION_ID"
	FromAzCLI  SubscriptionSource = "the az CLI default (az account show)"
)

// ErrNoSubscription is returned when no subscription is configured anywhere.
var ErrNoSubscription = errors.New("no Azure subscription: set azure.subscription in dhub.yaml, or AZURE_SUBSCRIPTION_ID, or pick a default with 'az login' / 'az account set --subscription ID'")

// ResolveSubscription returns the subscription id to use: the config's,
// else the environment's AZURE_SUBSCRIPTION_ID, else the az CLI default
// subscription (isDefault in azureProfile.json under AZURE_CONFIG_DIR or
// ~/.azure). getenv is os.Getenv in the CLI.
func ResolveSubscription(fromConfig string, getenv func(string) string) (string, SubscriptionSource, error) {
	if fromConfig != "" {
		return fromConfig, FromConfig, nil
	}
	if s := getenv("AZURE_SUBSCRIPTION_ID"); s != "" {
		return s, FromEnv, nil
	}
	dir := getenv("AZURE_CONFIG_DIR")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", "", ErrNoSubscription
		}
		dir = filepath.Join(home, ".azure")
	}
	s, err := azCLIDefault(filepath.Join(dir, "azureProfile.json"))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && s == "") {
		return "", "", ErrNoSubscription
	}
	if err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrNoSubscription, err)
	}
	return s, FromAzCLI, nil
}

// azCLIDefault reads the default subscription of the az CLI's profile.
func azCLIDefault(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// The az CLI writes the file with a UTF-8 byte order mark.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var profile struct {
		Subscriptions []struct {
			ID        string `json:"id"`
			IsDefault bool   `json:"isDefault"`
		} `json:"subscriptions"`
	}
	if err := json.Unmarshal(b, &profile); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for _, s := range profile.Subscriptions {
		if s.IsDefault {
			return s.ID, nil
		}
	}
	return "", nil
}

// DefaultOptions returns Options for real Azure: DefaultAzureCredential
// (environment, workload identity, managed identity, az CLI, azd, ...) and
// the subscription ResolveSubscription finds. It makes no request.
func DefaultOptions(subscription string) (Options, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return Options{}, fmt.Errorf("azure credential: %w", err)
	}
	return Options{Credential: cred, Subscription: subscription,
		Prices: &prices.Client{Endpoint: prices.Endpoint, CacheDir: prices.DefaultCacheDir()}}, nil
}
