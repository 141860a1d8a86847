package local

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func requirementsDigest() string { return environmentDigest() }

// fakePython writes an interpreter that answers envFingerprint's question
// as Python version would, and logs how it was called to log.
func fakePython(t *testing.T, version string, newEnough bool, log string) string {
	t.Helper()
	ok := "False"
	if newEnough {
		ok = "True"
	}
	return writeScript(t, filepath.Join(t.TempDir(), "python"), `echo "$*" >> '`+log+`'
if [ "$1" = -c ]; then printf '`+version+`\n`+ok+`\n'; exit 0; fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
	for dir; do :; done  # the last argument
	[ "$3" = --clear ] && rm -rf "$dir"
	mkdir -p "$dir/bin" && cp '`+filepath.Dir(log)+`/venv-python' "$dir/bin/python" && exit 0
fi
exit 3
`)
}

func TestEnvFingerprintMissingInterpreter(t *testing.T) {
	for _, python := range []string{
		"dhub-test-no-such-python3",
		filepath.Join(t.TempDir(), "no-such-dir", "python3"),
	} {
		_, err := envFingerprint(t.Context(), python)
		if err == nil {
			t.Fatalf("%s: a missing interpreter was accepted", python)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "local.python: ") || !strings.Contains(msg, python) || !strings.Contains(msg, "not found") {
			t.Errorf("%s: err = %q, want a local.python error saying it is not found", python, msg)
		}
	}
}

func TestEnvFingerprintTooOld(t *testing.T) {
	old := writeScript(t, filepath.Join(t.TempDir(), "python3.9"), `printf '3.9.1\nFalse\n'`)
	_, err := envFingerprint(t.Context(), old)
	if err == nil {
		t.Fatal("Python 3.9 was accepted")
	}
	msg := err.Error()
	for _, want := range []string{"local.python", old, "Python 3.9.1", "needs 3.11 or newer"} {
		if !strings.Contains(msg, want) {
			t.Errorf("err = %q, want it to contain %q", msg, want)
		}
	}
}

func TestEnvFingerprintBrokenInterpreter(t *testing.T) {
	broken := writeScript(t, filepath.Join(t.TempDir(), "python"), "echo boom >&2; exit 1\n")
	if _, err := envFingerprint(t.Context(), broken); err == nil || !strings.HasPrefix(err.Error(), "local.python: ") {
		t.Errorf("err = %v, want a local.python error", err)
	}
	garbage := writeScript(t, filepath.Join(t.TempDir(), "python"), "echo hello\n")
	if _, err := envFingerprint(t.Context(), garbage); err == nil || !strings.HasPrefix(err.Error(), "local.python: ") {
		t.Errorf("an interpreter printing nonsense: err = %v, want a local.python error", err)
	}
}

func TestEnvFingerprint(t *testing.T) {
	fake := writeScript(t, filepath.Join(t.TempDir(), "python"), `printf '3.12.1\nTrue\n'`)
	got, err := envFingerprint(t.Context(), fake)
	if err != nil {
		t.Fatal(err)
	}
	if want := "python 3.12.1\nrequirements " + requirementsDigest() + "\n"; got != want {
		t.Errorf("fingerprint = %q, want %q", got, want)
	}

	// The real interpreter, through PATH as the default config names it.
	real1, err := envFingerprint(t.Context(), "python3")
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if !regexp.MustCompile(`^python 3\.\d+\.\d+\nrequirements [0-9a-f]{64}\n$`).MatchString(real1) {
		t.Errorf("python3 fingerprint = %q", real1)
	}
	real2, err := envFingerprint(t.Context(), python3(t))
	if err != nil || real2 != real1 {
		t.Errorf("the same interpreter by its path gives %q (%v), by name %q", real2, err, real1)
	}
	if !strings.Contains(Requirements, "jupyterhub") || !strings.Contains(Requirements, "dask-gateway") {
		t.Error("the embedded requirements do not pin jupyterhub and dask-gateway")
	}
}

func TestEnsureEnvUpToDateRunsNothing(t *testing.T) {
	tmp := t.TempDir()
	log := filepath.Join(tmp, "calls")
	python := fakePython(t, "3.12.1", true, log)
	venv := filepath.Join(tmp, "venv")
	ran := filepath.Join(tmp, "venv-python-ran")
	writeScript(t, filepath.Join(venv, "bin", "python"), "touch '"+ran+"'\n")
	for _, name := range envPrograms {
		writeScript(t, filepath.Join(venv, "bin", name), "exit 0\n")
	}
	want, err := envFingerprint(t.Context(), python)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(venv, envMarker), []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(log)

	var progress bytes.Buffer
	installed, err := EnsureEnv(t.Context(), venv, python, "", &progress)
	if err != nil {
		t.Fatal(err)
	}
	if installed {
		t.Error("installed = true for an up-to-date environment")
	}
	if progress.Len() != 0 {
		t.Errorf("progress for an up-to-date environment: %q", progress.String())
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the environment's python was run")
	}
	if calls := readFile(t, log); strings.Count(calls, "\n") != 1 || !strings.HasPrefix(calls, "-c import sys") {
		t.Errorf("the interpreter was called as:\n%s\nwant only the version question", calls)
	}
	if _, err := os.Stat(filepath.Join(venv, "dhub-requirements.txt")); err == nil {
		t.Error("requirements were written for an up-to-date environment")
	}
}

func TestEnsureEnvWithTheRealInterpreterAndFakeVenv(t *testing.T) {
	// The trick Up's tests use: python3 as the venv's python, and a marker
	// matching python3's fingerprint.
	st := State{Dir: filepath.Join(t.TempDir(), "state")}
	fakeVenv(t, st, "python3")
	installed, err := EnsureEnv(t.Context(), st.Venv(), "python3", "", &bytes.Buffer{})
	if err != nil || installed {
		t.Fatalf("EnsureEnv = %v, %v; want nothing to install", installed, err)
	}
}

// fakeVenvPython writes what `python -m venv` copies into an environment
// (see fakePython): a python whose pip logs its arguments to pipLog,
// fails while fail exists, downloads one wheel into pip download's -d,
// and installs only from a --find-links directory that holds it.
func fakeVenvPython(t *testing.T, dir, pipLog, fail string) {
	t.Helper()
	writeScript(t, filepath.Join(dir, "venv-python"), `echo "$*" >> '`+pipLog+`'
[ "$3" = --version ] && exit 0
[ "$2" = compileall ] && exit 0
[ -e '`+fail+`' ] && { echo "pip: $3 failed: no network" >&2; exit 1; }
bin=$(dirname "$0")
case "$3" in
download)
	while [ $# -gt 0 ]; do [ "$1" = -d ] && touch "$2/dask-2026.3.0-py3-none-any.whl"; shift; done
	exit 0 ;;
install)
	while [ $# -gt 0 ]; do
		[ "$1" = --find-links ] && { [ -e "$2/dask-2026.3.0-py3-none-any.whl" ] || { echo "no wheels in $2" >&2; exit 1; }; }
		shift
	done
	printf '#!/bin/sh\n' > "$bin/jupyterhub"; printf '#!/bin/sh\n' > "$bin/dask-gateway-server"
	chmod +x "$bin/jupyterhub" "$bin/dask-gateway-server"
	exit 0 ;;
esac
exit 3
`)
}

func TestEnsureEnvInstalls(t *testing.T) {
	tmp := t.TempDir()
	log := filepath.Join(tmp, "calls")
	pipLog := filepath.Join(tmp, "pip-calls")
	failPip := filepath.Join(tmp, "fail-pip")
	fakeVenvPython(t, tmp, pipLog, failPip)
	python := fakePython(t, "3.11.4", true, log)
	venv := filepath.Join(tmp, "state", "venv")
	cache := filepath.Join(tmp, "cache", "python-wheels")

	// pip fails: the error says so, no marker is written and the cache
	// keeps nothing.
	if err := os.WriteFile(failPip, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	installed, err := EnsureEnv(t.Context(), venv, python, cache, &progress)
	if err == nil || installed {
		t.Fatalf("EnsureEnv with a failing pip = %v, %v", installed, err)
	}
	if !strings.Contains(err.Error(), "download the pinned packages") || !strings.Contains(err.Error(), "pip: download failed: no network") {
		t.Errorf("err = %q, want it to say the download failed, with pip's output", err)
	}
	if _, err := os.Stat(filepath.Join(venv, envMarker)); err == nil {
		t.Error("a marker was written after a failed install")
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the wheel cache keeps %v after a failed download", entries)
	}
	if !strings.Contains(progress.String(), "creating the Python environment in "+venv) {
		t.Errorf("progress = %q", progress.String())
	}

	// pip works: the environment is reused, the pinned requirements are
	// downloaded into the cache and installed from it alone, and the
	// marker is written.
	os.Remove(failPip)
	os.Remove(log)
	os.Remove(pipLog)
	progress.Reset()
	installed, err = EnsureEnv(t.Context(), venv, python, cache, &progress)
	if err != nil || !installed {
		t.Fatalf("EnsureEnv = %v, %v; want installed", installed, err)
	}
	if calls := readFile(t, log); strings.Contains(calls, "venv") {
		t.Errorf("the existing environment was created again:\n%s", calls)
	}
	req := filepath.Join(venv, "dhub-requirements.txt")
	if got := readFile(t, req); got != Requirements {
		t.Error("the requirements file differs from the embedded requirements")
	}
	sets, _ := filepath.Glob(filepath.Join(cache, "[^.]*"))
	if len(sets) != 1 || !fileExists(filepath.Join(sets[0], "dask-2026.3.0-py3-none-any.whl")) {
		t.Fatalf("the wheel cache holds %v, want one complete set", sets)
	}
	// The environment left by the failed install is checked for a working
	// pip first; pip downloads, installs from the set without the index,
	// and the files are compiled.
	pip := strings.Split(strings.TrimSpace(readFile(t, pipLog)), "\n")
	if len(pip) != 4 || pip[0] != "-m pip --version" ||
		!strings.HasPrefix(pip[1], "-m pip download ") || !strings.Contains(pip[1], "-d "+filepath.Join(cache, incomingPrefix)) || !strings.HasSuffix(pip[1], "-r "+req) ||
		!strings.HasPrefix(pip[2], "-m pip install ") || !strings.Contains(pip[2], "--no-index --find-links "+sets[0]+" ") || !strings.HasSuffix(pip[2], "-r "+req) ||
		pip[3] != "-m compileall -q -j 0 "+filepath.Join(venv, "lib") {
		t.Errorf("pip was run as %q", pip)
	}
	marker := readFile(t, filepath.Join(venv, envMarker))
	if marker != "python 3.11.4\nrequirements "+requirementsDigest()+"\n" {
		t.Errorf("marker = %q", marker)
	}
	if !strings.Contains(progress.String(), "Python environment ready") {
		t.Errorf("progress = %q", progress.String())
	}
	// The users' servers' settings: terminals keep the environment's PATH,
	// JupyterLab asks nobody about news.
	if got := readFile(t, filepath.Join(venv, "etc", "jupyter", "jupyter_server_config.py")); !strings.Contains(got, `"-i"]}`) || strings.Contains(got, `"-l"`) {
		t.Errorf("jupyter_server_config.py:\n%s", got)
	}
	if got := readFile(t, filepath.Join(venv, "share", "jupyter", "lab", "settings", "overrides.json")); !strings.Contains(got, `"fetchNews": "false"`) {
		t.Errorf("overrides.json:\n%s", got)
	}

	// Up to date now.
	os.Remove(pipLog)
	if installed, err := EnsureEnv(t.Context(), venv, python, cache, &bytes.Buffer{}); err != nil || installed {
		t.Errorf("second EnsureEnv = %v, %v", installed, err)
	}
	if _, err := os.Stat(pipLog); err == nil {
		t.Error("pip ran for an up-to-date environment")
	}

	// Another environment of the same interpreter (another hub's) installs
	// from the cache, without downloading.
	other := filepath.Join(tmp, "other-state", "venv")
	progress.Reset()
	if installed, err := EnsureEnv(t.Context(), other, python, cache, &progress); err != nil || !installed {
		t.Fatalf("EnsureEnv of another environment = %v, %v\n%s", installed, err, progress.String())
	}
	if pip := readFile(t, pipLog); strings.Contains(pip, "download") || !strings.Contains(pip, "--find-links "+sets[0]+" ") {
		t.Errorf("another environment's pip ran as %q, want an install from %s alone", pip, sets[0])
	}
	if !strings.Contains(progress.String(), "already downloaded, in "+sets[0]) {
		t.Errorf("progress = %q", progress.String())
	}

	// Another interpreter version means reinstalling, from a download of
	// its own (wheels can be built for one Python); the other set goes,
	// a download under way is left alone.
	underWay, err := os.MkdirTemp(cache, incomingPrefix)
	if err != nil {
		t.Fatal(err)
	}
	python2 := fakePython(t, "3.13.0", true, log)
	if installed, err := EnsureEnv(t.Context(), venv, python2, cache, &bytes.Buffer{}); err != nil || !installed {
		t.Errorf("EnsureEnv after an interpreter upgrade = %v, %v; want installed", installed, err)
	}
	now, _ := filepath.Glob(filepath.Join(cache, "[^.]*"))
	if len(now) != 1 || now[0] == sets[0] || !fileExists(underWay) {
		t.Errorf("the cache after another interpreter's install: %v and %s (was %v), want one new set and the download under way", now, underWay, sets)
	}
}

// Without a cache the wheels go to a temporary directory, removed after
// the install; a failed install says so, with pip's output.
func TestEnsureEnvWithoutAWheelCache(t *testing.T) {
	tmp := t.TempDir()
	pipLog := filepath.Join(tmp, "pip-calls")
	fakeVenvPython(t, tmp, pipLog, filepath.Join(tmp, "no-failure"))
	python := fakePython(t, "3.12.1", true, filepath.Join(tmp, "calls"))
	venv := filepath.Join(tmp, "venv")
	if installed, err := EnsureEnv(t.Context(), venv, python, "", &bytes.Buffer{}); err != nil || !installed {
		t.Fatalf("EnsureEnv = %v, %v", installed, err)
	}
	var download string
	for f := range strings.FieldsSeq(readFile(t, pipLog)) {
		if strings.Contains(f, "dhub-wheels-") {
			download = f
		}
	}
	if download == "" || fileExists(download) {
		t.Errorf("pip ran as %q: want a download into a temporary directory, gone after the install", readFile(t, pipLog))
	}

	// The download works but the install does not.
	os.Remove(filepath.Join(venv, envMarker))
	writeScript(t, filepath.Join(venv, "bin", "python"), `case "$3" in download|--version) exit 0 ;; esac
echo "ERROR: No matching distribution found for dask==2026.3.0" >&2; exit 1
`)
	_, err := EnsureEnv(t.Context(), venv, python, "", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "install the pinned packages into "+venv) || !strings.Contains(err.Error(), "No matching distribution found for dask==2026.3.0") {
		t.Errorf("EnsureEnv with a failing install: %v", err)
	}
}

// An environment whose build was interrupted after 'python -m venv' made
// its interpreter but before pip was in place is made again from scratch.
func TestEnsureEnvRebuildsAnInterruptedEnvironment(t *testing.T) {
	tmp := t.TempDir()
	log := filepath.Join(tmp, "calls")
	pipLog := filepath.Join(tmp, "pip-calls")
	writeScript(t, filepath.Join(tmp, "venv-python"), `echo "$*" >> '`+pipLog+`'
bin=$(dirname "$0")
printf '#!/bin/sh\n' > "$bin/jupyterhub"; printf '#!/bin/sh\n' > "$bin/dask-gateway-server"
chmod +x "$bin/jupyterhub" "$bin/dask-gateway-server"
exit 0
`)
	python := fakePython(t, "3.12.1", true, log)
	venv := filepath.Join(tmp, "venv")
	// What the interrupted build left: an interpreter with no pip, and a
	// file of the half-made environment.
	writeScript(t, filepath.Join(venv, "bin", "python"), "echo 'No module named pip' >&2; exit 1\n")
	half := filepath.Join(venv, "lib", "half-copied")
	if err := os.MkdirAll(filepath.Dir(half), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(half, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	installed, err := EnsureEnv(t.Context(), venv, python, "", &progress)
	if err != nil || !installed {
		t.Fatalf("EnsureEnv = %v, %v\n%s", installed, err, progress.String())
	}
	if calls := readFile(t, log); !strings.Contains(calls, "-m venv --clear "+venv+"\n") {
		t.Errorf("the environment was not made again:\n%s", calls)
	}
	if !strings.Contains(progress.String(), "has no working pip (an interrupted build?): making it again") {
		t.Errorf("progress = %q", progress.String())
	}
	if _, err := os.Stat(half); err == nil {
		t.Error("a file of the half-made environment is kept")
	}
	if envComplete(venv, readFile(t, filepath.Join(venv, envMarker))) != "" {
		t.Error("the environment is not complete after the rebuild")
	}
}

// An environment made from another interpreter (pyenv's, before root's
// hub moved to the system Python) is made again from the one asked for:
// its python would go on running the old one.
func TestEnsureEnvRebuildsForAnotherInterpreter(t *testing.T) {
	tmp := t.TempDir()
	log := filepath.Join(tmp, "calls")
	writeScript(t, filepath.Join(tmp, "venv-python"), `bin=$(dirname "$0")
printf '#!/bin/sh\n' > "$bin/jupyterhub"; printf '#!/bin/sh\n' > "$bin/dask-gateway-server"
chmod +x "$bin/jupyterhub" "$bin/dask-gateway-server"
exit 0
`)
	// A Python 3.12.1 installed in /opt/python/bin, as it tells venv.
	python := writeScript(t, filepath.Join(tmp, "python"), `echo "$*" >> '`+log+`'
case "$2" in *_base_executable*) echo /opt/python/bin; exit 0 ;; esac
if [ "$1" = -c ]; then printf '3.12.1\nTrue\n'; exit 0; fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
	for dir; do :; done
	[ "$3" = --clear ] && rm -rf "$dir"
	mkdir -p "$dir/bin" && cp '`+tmp+`/venv-python' "$dir/bin/python" && printf 'home = /opt/python/bin\n' > "$dir/pyvenv.cfg" && exit 0
fi
exit 3
`)
	venv := filepath.Join(tmp, "venv")
	writeScript(t, filepath.Join(venv, "bin", "python"), "exit 0\n")
	if err := os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /root/.pyenv/versions/3.12.1/bin\ninclude-system-site-packages = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	if installed, err := EnsureEnv(t.Context(), venv, python, "", &progress); err != nil || !installed {
		t.Fatalf("EnsureEnv = %v, %v\n%s", installed, err, progress.String())
	}
	if !strings.Contains(readFile(t, log), "-m venv --clear "+venv+"\n") || !strings.Contains(progress.String(), "runs the interpreter in /root/.pyenv/versions/3.12.1/bin, not "+python+"'s: making it again") {
		t.Errorf("the environment was not made again:\n%s\n%s", readFile(t, log), progress.String())
	}
	if got := venvHome(venv); got != "/opt/python/bin" {
		t.Errorf("home = %s", got)
	}
	// Made from it now: the next build reuses it.
	os.Remove(log)
	os.Remove(filepath.Join(venv, envMarker))
	if _, err := EnsureEnv(t.Context(), venv, python, "", &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(readFile(t, log), "venv") {
		t.Errorf("an environment of this interpreter was made again:\n%s", readFile(t, log))
	}
}

func TestEnsureEnvRefusesOldPython(t *testing.T) {
	tmp := t.TempDir()
	python := fakePython(t, "3.9.1", false, filepath.Join(tmp, "calls"))
	venv := filepath.Join(tmp, "venv")
	_, err := EnsureEnv(t.Context(), venv, python, "", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "needs 3.11 or newer") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(venv); err == nil {
		t.Error("an environment was created with a too old Python")
	}
}

func TestLastLines(t *testing.T) {
	if got := lastLines("a\nb\nc\nd\n", 2); got != "    c\n    d" {
		t.Errorf("lastLines = %q", got)
	}
	if got := lastLines("only", 5); got != "    only" {
		t.Errorf("lastLines = %q", got)
	}
	var tb tailBuffer
	big := bytes.Repeat([]byte("x\n"), 1<<20)
	tb.Write(big)
	tb.Write([]byte("last line\n"))
	if len(tb.b) > 1<<20 || !strings.HasSuffix(tb.Tail(1), "last line") {
		t.Errorf("tailBuffer keeps %d bytes, tail %q", len(tb.b), tb.Tail(1))
	}
}

func TestPipProgress(t *testing.T) {
	// pip download, then pip install from the downloaded wheels.
	var out bytes.Buffer
	p := &pipProgress{w: &out, total: 3, counted: "Collecting ", verb: "downloaded", every: 0}
	for _, chunk := range []string{"Collecting aiohttp==3.14.5 (from -r req (line 5))\n  Downloading aio", "http-3.14.5.whl (1 MB)\nCollecting bokeh==3.9.2\n",
		"Collecting dask==2026.3.0\nSaved ./dask-2026.3.0-py3-none-any.whl\nSuccessfully downloaded aiohttp bokeh dask\n"} {
		p.Write([]byte(chunk))
	}
	want := "  pip: 1 of 3 packages downloaded (now aiohttp==3.14.5)\n  pip: 2 of 3 packages downloaded (now bokeh==3.9.2)\n" +
		"  pip: 3 of 3 packages downloaded (now dask==2026.3.0)\n"
	if out.String() != want {
		t.Errorf("download progress =\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	p = &pipProgress{w: &out, total: 2, counted: "Processing ", verb: "unpacked", every: 0}
	p.Write([]byte("Looking in links: /c/wheels\nProcessing /c/wheels/aiohttp-3.14.5-cp311-cp311-manylinux.whl (from -r req (line 5))\n" +
		"Processing /c/wheels/bokeh-3.9.2-py3-none-any.whl (from -r req (line 6))\nInstalling collected packages: aiohttp, bokeh\n"))
	want = "  pip: 1 of 2 packages unpacked (now aiohttp-3.14.5-cp311-cp311-manylinux.whl)\n  pip: 2 of 2 packages unpacked (now bokeh-3.9.2-py3-none-any.whl)\n" +
		"  pip: all 2 packages unpacked; installing them\n"
	if out.String() != want {
		t.Errorf("install progress =\n%s\nwant\n%s", out.String(), want)
	}
	if n := pinnedCount(); n < 100 || n != strings.Count(Requirements, "==") {
		t.Errorf("pinnedCount = %d", n)
	}
}
