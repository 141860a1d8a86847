package realcluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/kube/kubetest"
	"dhub/internal/kube/realnodes"
)

// cluster is the package's cluster with real nodes.
var cluster *realnodes.Cluster

func TestMain(m *testing.M) { realnodes.Main(m, &cluster, options) }

// helperImage is the shell image of local-path-provisioner's helper pods,
// built by scripts/node-images.sh.
const helperImage = "dhub.test/busybox:1.35"

// imageNodes places the big images only on the nodes their pods run on
// in the recommended profile; every other image (the pause image, the
// volume helper's shell, the image awaiter, the network tools of users'
// pods' init container) goes on every node.
var imageNodes = map[string][]string{
	"quay.io/jupyterhub/k8s-hub:4.4.0":                 {"core"},
	"quay.io/jupyterhub/configurable-http-proxy:5.2.0": {"core"},
	"registry.k8s.io/kube-scheduler:v1.30.14":          {"core"},
	"ghcr.io/dask/dask-gateway-server:2026.3.0":        {"core"},
	"docker.io/traefik:3.3.5":                          {"core"},
	"pangeo/pangeo-notebook:2025.08.14":                {"user", "worker"},
}

// options finds (or builds, once, through the scripts) the control plane's
// and the nodes' tools and the images, and asks for the recommended
// profile's three nodes.
func options() (realnodes.Options, error) {
	kubeTools, err := kubetest.ToolsDir()
	if err != nil {
		return realnodes.Options{}, err
	}
	nodeTools, err := dirFromEnvOrScript("DHUB_NODE_TOOLS", "node-tools.sh")
	if err != nil {
		return realnodes.Options{}, err
	}
	// The user-scheduler's and traefik's images hold binaries of the
	// node tools.
	imagesDir, err := dirFromEnvOrScript("DHUB_NODE_IMAGES", "node-images.sh", "DHUB_NODE_TOOLS="+nodeTools)
	if err != nil {
		return realnodes.Options{}, err
	}
	images, err := readManifest(imagesDir)
	if err != nil {
		return realnodes.Options{}, err
	}
	return realnodes.Options{
		KubeTools:   kubeTools,
		NodeTools:   nodeTools,
		Images:      images,
		HelperImage: helperImage,
		Nodes:       realnodes.RecommendedNodes(),
	}, nil
}

// dirFromEnvOrScript returns $env when set, else the directory the script
// prints when run with scriptEnv.
func dirFromEnvOrScript(env, script string, scriptEnv ...string) (string, error) {
	if dir := os.Getenv(env); dir != "" {
		return dir, nil
	}
	dir, err := kubetest.ScriptDir(script, scriptEnv...)
	if err != nil {
		return "", fmt.Errorf("%w (%s is unset)", err, env)
	}
	return dir, nil
}

// readManifest reads the images' manifest that scripts/node-images.sh
// writes beside the archives: a line per image, its archive and its
// reference.
func readManifest(dir string) ([]realnodes.Image, error) {
	f, err := os.Open(filepath.Join(dir, "manifest"))
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	defer f.Close()
	var images []realnodes.Image
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("images: manifest line %q: want an archive and a reference", s.Text())
		}
		archive, ref := fields[0], fields[1]
		if !filepath.IsAbs(archive) {
			archive = filepath.Join(dir, archive)
		}
		images = append(images, realnodes.Image{Archive: archive, Ref: ref, Nodes: imageNodes[ref]})
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("images: %s/manifest lists no image", dir)
	}
	return images, nil
}
