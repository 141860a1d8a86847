package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"dhub/internal/render"
)

// Helm finds a chart of a repository by downloading the repository's
// index first, every time (the JupyterHub chart's index is megabytes):
// dhub keeps each chart it downloaded by repository, name and version, so
// a plan reads the chart being installed without the network, and an
// upgrade does not download it again. A chart version is never republished
// with other content by the repositories dhub pins.

// keptPath is where dhub keeps a chart of a repository.
func (c *Client) keptPath(r render.Release) string {
	cache, err := c.cacheDir()
	if err != nil {
		return ""
	}
	repo := sha256.Sum256([]byte(r.Chart.Repository))
	return filepath.Join(cache, "charts", hex.EncodeToString(repo[:8]), r.Chart.Name+"-"+r.Chart.Version+".tgz")
}

// keptChart returns the kept chart of r, or "" when there is none.
func (c *Client) keptChart(r render.Release) string {
	p := c.keptPath(r)
	if p == "" {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// keepChart copies a downloaded chart to where keptChart finds it and
// returns the path to load; on any error, the downloaded one.
func (c *Client) keepChart(r render.Release, downloaded string) string {
	p := c.keptPath(r)
	b, err := os.ReadFile(downloaded)
	if p == "" || err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return downloaded
	}
	// Written whole, then renamed: a reader never sees half a chart.
	tmp, err := os.CreateTemp(filepath.Dir(p), ".chart-*")
	if err != nil {
		return downloaded
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
		return downloaded
	}
	return p
}
