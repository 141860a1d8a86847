package cli

import (
	"errors"
	"fmt"
	"io"

	"dhub/internal/config"
	"dhub/internal/render"
)

// loadHub loads and fully checks a config: the config rules and the
// rendered values against the charts' schemas. Warnings go to w; any error
// fails with every problem listed at its file:line.
func loadHub(path string, target config.Target, w io.Writer) (*config.File, error) {
	f, err := config.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if target != "" {
		f.Hub.Target = target
		f.Hub.SetDefaults()
	}
	ps := f.Hub.Validate()
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
