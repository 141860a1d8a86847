// Package golden compares test output with golden files; -update rewrites
// them. Only tests import it: it registers the -update flag.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// Update reports whether the test runs with -update, for tests that also
// remove golden files their output no longer has.
func Update() bool { return *update }

// Check compares got with the golden file at path, relative to the package
// under test. With -update it writes got there instead.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		// Not fatal: a test that checks several files reports every missing one.
		t.Errorf("%v (%s creates it)", err, command())
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from the golden file %s (review, then %s):\n%s\n--- got\n%s\n--- want\n%s",
			path, command(), firstDiff(string(want), string(got)), got, want)
	}
}

// firstDiff quotes the first line where want and got differ, which is
// hard to spot in two whole files.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("first difference, line %d:\n  golden: %q\n  got:    %q", i+1, w, g)
		}
	}
	return "no line differs"
}

// command is the go test command that rewrites the golden files of the
// package under test, which go test runs in the package's directory.
func command() string {
	dir, err := os.Getwd()
	if err != nil {
		return "go test -update"
	}
	for root := dir; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, dir)
			if err != nil || rel == "." {
				return "go test . -update"
			}
			return "go test ./" + filepath.ToSlash(rel) + " -update"
		}
		if filepath.Dir(root) == root {
			return "go test . -update"
		}
	}
}
