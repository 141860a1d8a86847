package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the failure instead of failing.
type recorder struct {
	testing.TB
	msg   string
	fatal bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg, r.fatal = fmt.Sprintf(format, args...), true
}
func (r *recorder) Fatal(args ...any) {
	r.msg, r.fatal = fmt.Sprint(args...), true
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")

	r := &recorder{TB: t}
	Check(r, path, []byte("a\n"))
	if r.fatal || !strings.Contains(r.msg, "go test ./internal/golden -update") {
		t.Errorf("missing golden file: fatal=%v, %q; want an error saying how to create it", r.fatal, r.msg)
	}

	setUpdate(t, true)
	r = &recorder{TB: t}
	Check(r, path, []byte("a\nb\n"))
	if r.msg != "" {
		t.Fatalf("-update failed: %s", r.msg)
	}
	setUpdate(t, false)

	r = &recorder{TB: t}
	Check(r, path, []byte("a\nb\n"))
	if r.msg != "" {
		t.Errorf("the rewritten golden file does not match: %s", r.msg)
	}

	r = &recorder{TB: t}
	Check(r, path, []byte("a\nc\n"))
	for _, want := range []string{path, "go test ./internal/golden -update", "line 2", `"b"`, `"c"`} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("failure %q does not mention %s", r.msg, want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "a\nb\n" {
		t.Errorf("a failed comparison rewrote the golden file: %q", b)
	}
}

func setUpdate(t *testing.T, v bool) {
	old := *update
	*update = v
	t.Cleanup(func() { *update = old })
}
