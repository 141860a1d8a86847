package render

import (
	"strings"
	"testing"
)

// The charts join an image's name and tag with ':'; the join must give the
// image back, whether it has a tag, a digest or both.
func TestSplitImage(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	for _, image := range []string{
		"pangeo/pangeo-notebook:2025.08.14",
		"registry:5000/pangeo/notebook:1.0",
		"pangeo/pangeo-notebook@" + digest,
		"pangeo/pangeo-notebook:2025.08.14@" + digest,
		"registry:5000/pangeo/notebook:1.0@" + digest,
	} {
		name, tag := splitImage(image)
		if name+":"+tag != image || strings.Contains(name, ":"+strings.Repeat("a", 64)) {
			t.Errorf("splitImage(%q) = %q, %q", image, name, tag)
		}
	}
	if name, tag := splitImage("pangeo/pangeo-notebook:2025.08.14@" + digest); name != "pangeo/pangeo-notebook" || tag != "2025.08.14@"+digest {
		t.Errorf("tag and digest: %q, %q; want the digest in the tag", name, tag)
	}
}
