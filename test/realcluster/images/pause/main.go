// Command pause is the only program of the pod sandbox ("pause") image that
// scripts/node-images.sh builds as registry.k8s.io/pause, the name
// containerd's sandbox image and the JupyterHub chart's placeholder and
// image-puller pods use: no registry is reachable on the real-node test
// tier's machines. Like the upstream pause it holds a pod's namespaces by
// sleeping until SIGTERM or SIGINT, then exits 0, and as PID 1 of a pod
// that shares its process namespace it reaps the orphans handed to it.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
		os.Exit(0)
	}
}

// reap waits for every child that has exited. SIGCHLDs that arrive together
// are delivered once, so one signal may stand for several children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
