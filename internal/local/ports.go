package local

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// listenerInodes returns the socket inodes that listen on TCP port (any
// address, IPv4 or IPv6), read from /proc/net/tcp and /proc/net/tcp6.
func listenerInodes(port int) map[string]bool {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseUint(fields[1][i+1:], 16, 16); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	return inodes
}

// ownsPort reports whether the port is held by a process of the hub (one
// that carries its marker): a restart frees it, so it counts as free.
func (st State) ownsPort(port int) bool {
	inodes := listenerInodes(port)
	if len(inodes) == 0 {
		return false
	}
	for _, p := range ownProcesses(st.ID) {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid, fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				return true
			}
		}
	}
	return false
}

// usablePort reports whether the hub may listen on a loopback port once
// its running processes are stopped: nothing holds it, or the hub does.
func (st State) usablePort(port int) bool {
	return portFree("127.0.0.1", port) || st.ownsPort(port)
}
