package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SecretRef points at a secret kept outside dhub.yaml: an environment
// variable or a file. The secret itself is never written in the config.
type SecretRef struct {
	FromEnv  string `yaml:"fromEnv,omitempty"`
	FromFile string `yaml:"fromFile,omitempty"`
}

// errLiteralSecret is returned for a secret written inline; the message
// never repeats the value.
var errLiteralSecret = errors.New("a secret is never written in dhub.yaml: use {fromEnv: VARIABLE} or {fromFile: PATH}")

// UnmarshalYAML refuses a scalar (a secret typed in place) without echoing it.
// The refusal is a *yaml.TypeError so that Load reports it at file:line
// together with every other decoding problem instead of stopping at it.
func (s *SecretRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, errLiteralSecret)}}
	}
	type plain SecretRef
	return n.Decode((*plain)(s))
}

// IsZero reports whether no reference is set.
func (s SecretRef) IsZero() bool { return s.FromEnv == "" && s.FromFile == "" }

// String describes the reference, never the secret.
func (s SecretRef) String() string {
	switch {
	case s.FromEnv != "":
		return "env:" + s.FromEnv
	case s.FromFile != "":
		return "file:" + s.FromFile
	}
	return "unset"
}

// Resolve reads the secret. Trailing newlines of a file are dropped.
func (s SecretRef) Resolve() (string, error) {
	switch {
	case s.FromEnv != "":
		v, ok := os.LookupEnv(s.FromEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.FromEnv)
		}
		return v, nil
	case s.FromFile != "":
		b, err := os.ReadFile(s.FromFile)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.FromFile)
		}
		return v, nil
	}
	return "", errors.New("no secret reference set")
}
