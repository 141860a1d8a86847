// Command coredns is CoreDNS v1.15.0 with only the plugins the real-node
// test tier's Corefile uses (bind, errors, kubernetes, cache), the way
// CoreDNS documents builds with a chosen set of plugins: its own main
// imports every plugin it ships, several cloud SDKs among them, and takes
// minutes more to compile.
package main

import (
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
