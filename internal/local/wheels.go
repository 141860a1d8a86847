package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// incomingPrefix names a wheel download still under way in the cache.
const incomingPrefix = ".incoming-"

// DefaultWheelCache is where the pinned packages' wheels are kept between
// environments: the user's cache directory, or "" when there is none.
func DefaultWheelCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "dhub", "python-wheels")
}

// wheels makes sure a directory holds the wheel of every pinned package
// for the environment fingerprint want (the requirements and the
// interpreter's version: some wheels are built for one Python), and
// returns it with what to call once the install is done.
//
// With a cache, a fingerprint's wheels are downloaded once into a
// directory of their own, which appears only when complete: a later
// environment (another hub, an interpreter's reinstall) installs without
// the network, and two dhubs downloading at once each end with a whole
// set. Without one (cache ""), or when it cannot be made, they go to a
// temporary directory removed after the install.
func wheels(ctx context.Context, python, cache, want, req string, progress io.Writer) (dir string, done func(), err error) {
	sum := sha256.Sum256([]byte(want))
	key := hex.EncodeToString(sum[:8])
	if cache != "" {
		if err := os.MkdirAll(cache, 0o700); err != nil {
			fmt.Fprintf(progress, "cannot keep downloaded packages in %s (%v): downloading them for this install only\n", cache, err)
			cache = ""
		}
	}
	if cache == "" {
		tmp, err := os.MkdirTemp("", "dhub-wheels-")
		if err != nil {
			return "", nil, err
		}
		done = func() { os.RemoveAll(tmp) }
		if err := downloadWheels(ctx, python, tmp, req, progress); err != nil {
			done()
			return "", nil, err
		}
		return tmp, done, nil
	}
	dir = filepath.Join(cache, key)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		fmt.Fprintf(progress, "the pinned packages are already downloaded, in %s\n", dir)
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp(cache, incomingPrefix)
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := downloadWheels(ctx, python, tmp, req, progress); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another dhub finished the same download first: its set is whole.
		if fi, statErr := os.Stat(dir); statErr != nil || !fi.IsDir() {
			return "", nil, fmt.Errorf("keep the downloaded packages in %s: %w", dir, err)
		}
	}
	pruneWheels(cache, key, progress)
	return dir, func() {}, nil
}

// downloadWheels has pip download every pinned package into dir.
func downloadWheels(ctx context.Context, python, dir, req string, progress io.Writer) error {
	fmt.Fprintf(progress, "downloading the %d pinned packages into %s\n", pinnedCount(), dir)
	pr := &pipProgress{w: progress, total: pinnedCount(), counted: "Collecting ", verb: "downloaded", every: 10 * time.Second, last: time.Now()}
	err := runWith(ctx, pr, python, "-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-d", dir, "-r", req)
	if err != nil {
		return fmt.Errorf("download the pinned packages into %s: %w", dir, err)
	}
	return nil
}

// pruneWheels removes the cache's sets other than keep's (other
// requirements or interpreters: each is a whole download, about 100 MB)
// and downloads that were interrupted a day ago or more. A cache holds
// only what dhub put there.
func pruneWheels(cache, keep string, progress io.Writer) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if name == keep || !e.IsDir() {
			continue
		}
		if strings.HasPrefix(name, incomingPrefix) {
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < 24*time.Hour {
				continue // perhaps another dhub's download, under way
			}
		}
		if err := os.RemoveAll(filepath.Join(cache, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(progress, "could not remove older downloaded packages %s: %v\n", filepath.Join(cache, name), err)
		}
	}
}
