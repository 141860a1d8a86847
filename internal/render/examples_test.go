package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/config"
	"dhub/internal/render"
)

// examplesGlob finds the example configs, one per feature, at the module root.
const examplesGlob = "../../examples/*.yaml"

// minExamples is how many examples the repository documents; fewer means
// one was lost.
const minExamples = 8

// examplePaths returns every example config, failing when some are missing.
func examplePaths(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(examplesGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < minExamples {
		t.Fatalf("found %d examples matching %s, want at least %d", len(paths), examplesGlob, minExamples)
	}
	return paths
}

// exampleName is an example's file name without .yaml.
func exampleName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// loadExample loads an example and fails the test unless it is valid.
func loadExample(t testing.TB, path string) *config.Hub {
	t.Helper()
	f, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if errs := f.Hub.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("%s does not validate:\n%s", path, problemList(errs))
	}
	return f.Hub
}

// loadNamed loads examples/<name>.yaml.
func loadNamed(t testing.TB, name string) *config.Hub {
	t.Helper()
	return loadExample(t, filepath.Join("..", "..", "examples", name+".yaml"))
}

func problemList(ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// TestExamples loads every example the way 'dhub validate' does: strict
// load, config validation, the rendered values against the real chart
// schemas, and rendering.
func TestExamples(t *testing.T) {
	for _, path := range examplePaths(t) {
		t.Run(exampleName(path), func(t *testing.T) {
			f, err := config.LoadFile(path)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if errs := f.Hub.Validate().Errors(); len(errs) > 0 {
				t.Fatalf("Validate found %d error(s):\n%s", len(errs), problemList(errs))
			}
			if ps := render.Check(f.Hub); len(ps) > 0 {
				t.Fatalf("Check found %d problem(s):\n%s", len(ps), problemList(ps))
			}
			files, err := render.Files(f.Hub, false)
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			if len(files) == 0 {
				t.Fatal("Files rendered nothing")
			}
			for _, rf := range files {
				if len(rf.Content) == 0 {
					t.Errorf("%s is empty", rf.Name)
				}
			}
		})
	}
}

// TestExamplesHaveHeader keeps each example self-explaining: it opens with a
// comment naming the file and what it shows.
func TestExamplesHaveHeader(t *testing.T) {
	for _, path := range examplePaths(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if want := "# " + filepath.Base(path) + ": "; !strings.HasPrefix(first, want) {
			t.Errorf("%s: first line %q does not start with %q", path, first, want)
		}
	}
}
