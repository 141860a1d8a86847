package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"dhub/internal/config"
	"dhub/internal/render"
)

// loadHub loads and fully checks a config: the config rules, the secrets
// and files it refers to, and the rendered values against the charts'
// schemas. Warnings go to w; any error
// fails with every problem listed at its file:line.
func loadHub(path string, target config.Target, w io.Writer) (*config.File, error) {
	f, err := config.LoadFileAs(path, target)
	if errors.Is(err, fs.ErrNotExist) && path == defaultFile && target != "" {
		// "dhub up --target local" works without a config: the defaults.
		fmt.Fprintf(w, "%s not found: using the defaults of target %s ('dhub init' writes them out)\n", path, target)
		h := &config.Hub{Name: "dhub-" + string(target), Target: target}
		h.SetDefaults()
		f, err = &config.File{Path: path, Hub: h}, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: 'dhub init' writes one (or pass -f PATH)", path)
	}
	if err != nil {
		return nil, err
	}
	// The rules, then what the file refers to on this machine (secrets,
	// the kubeconfig): 'dhub validate' passes only when 'dhub up' can
	// read everything it needs.
	ps := append(f.Hub.Validate(), f.Hub.CheckReferences()...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	if len(ps.Errors()) == 0 {
		ps = append(ps, render.Check(f.Hub)...)
	}
	for _, p := range ps.Warnings() {
		fmt.Fprintln(w, locate(f, p))
	}
	if errs := ps.Errors(); len(errs) > 0 {
		msg := fmt.Sprintf("%s has %d problem(s):", path, len(errs))
		for _, p := range errs {
			msg += "\n  " + locate(f, p)
		}
		return nil, errors.New(msg)
	}
	return f, nil
}

// locate prefixes a problem with file:line when the file holds its path.
func locate(f *config.File, p config.Problem) string {
	if line := f.Line(p.Path); line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.Path, line, p)
	}
	return fmt.Sprintf("%s: %s", f.Path, p)
}
