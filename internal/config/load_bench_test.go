package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigDoc is a valid dhub.yaml of about size bytes, most of it in one
// mapping (dask.environment): the shape that made loading quadratic.
func bigDoc(size int) []byte {
	var b strings.Builder
	b.WriteString("name: lab\ndask:\n  environment:\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "    K%d: v\n", i)
	}
	return []byte(b.String())
}

// BenchmarkLoad loads files of growing size; ns/op should grow with the
// size, not its square. Run: go test ./internal/config -run '^$' -bench Load
func BenchmarkLoad(b *testing.B) {
	for _, size := range []int{16 << 10, 128 << 10, MaxFileSize - 64} {
		doc := bigDoc(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := Load("dhub.yaml", doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLoadLargestFile loads the largest file dhub accepts and refuses a
// larger one. How long loading takes is BenchmarkLoad's to measure: the
// time is printed here, not asserted.
func TestLoadLargestFile(t *testing.T) {
	doc := bigDoc(MaxFileSize - 64)
	start := time.Now()
	if _, err := Load("dhub.yaml", doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d KiB (%d keys) in %v", len(doc)>>10, strings.Count(string(doc), "\n"), time.Since(start))
	big := bigDoc(MaxFileSize + 1)
	if _, err := Load("dhub.yaml", big); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("a file over the limit: %v", err)
	}
}
