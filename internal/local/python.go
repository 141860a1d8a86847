package local

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// choosePython returns the interpreter to build the environment from:
// python, unless dhub runs as root and python is the plain "python3" of
// PATH that users' accounts cannot run (pyenv's under /root); then the
// first system Python that is new enough and that they can run, with a
// note saying so. An explicit path is never replaced.
func choosePython(ctx context.Context, python string, m Machine) (chosen, note string, err error) {
	err = checkPythonReachable(ctx, python, m.Root)
	if err == nil || python != "python3" {
		return python, "", err
	}
	for _, candidate := range m.SystemPythons {
		if _, ferr := envFingerprint(ctx, candidate); ferr == nil && checkPythonReachable(ctx, candidate, m.Root) == nil {
			return candidate, fmt.Sprintf("python3 on PATH lies where users' accounts cannot run it: the environment is built from %s (set local.python to choose another)", candidate), nil
		}
	}
	return python, "", err
}

// checkPythonReachable fails when, as root, the interpreter the
// environment is built from lies where users' accounts cannot reach it:
// the environment's python links to that interpreter and loads its
// standard library, so users' servers could not start (Python under
// /root, such as pyenv's, is the common case).
func checkPythonReachable(ctx context.Context, python string, root bool) error {
	if !root {
		return nil
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import os, sys; print(os.path.dirname(os.path.realpath(sys.executable))); print(sys.base_prefix)").Output()
	if err != nil {
		return nil // envFingerprint says what is wrong with it
	}
	for _, dir := range strings.Fields(string(out)) {
		if d, mode := closedAncestor(dir); d != "" {
			return fmt.Errorf("local.python: %s is installed in %s, which other accounts cannot reach (%s is %04o), and as root each user's server runs as an account of its own on that interpreter; set local.python to one they can run, such as /usr/bin/python3", python, dir, d, mode)
		}
	}
	return nil
}
