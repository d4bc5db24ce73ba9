// Command fscdump prints the Go reader's answers, one JSON line per path,
// for tests/test_readers_agree.py, which compares them with the C and
// Rust readers' (tests/fsc_dump.c, rust/examples/dump.rs print the same
// lines, byte for byte).
//
//	fscdump [--many] NAME < PATHS
//
// It opens instance NAME (a live writer required), reads paths from
// stdin, one per line, and looks each up with Lookup (--many, or -many:
// all at once with LookupMany): the cache only, never stat().  Per path:
//
//	{"path":P,"status":"hit","exists":B,"err":N,"source":"cache",
//	 "dev":N,"ino":N,"mode":N,"nlink":N,"uid":N,"gid":N,"rdev":N,
//	 "size":N,"blocks":N,"mtime_sec":N,"mtime_nsec":N,"ctime_sec":N,
//	 "ctime_nsec":N,"blksize":N,"atime_sec":N,"atime_nsec":N}
//	{"path":P,"status":"miss"}         also "uncached"
//
// P is escaped: '"' and '\' with a backslash, bytes below 0x20 and 0x7f
// as \u00XX, every other byte as it is.  ("error" is the C reader's only:
// Lookup has no error result.)  Exit 0, or 1 with a message.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"fstatcache.example/go/fstatcache"
)

func quote(p string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func answer(w io.Writer, path string, r fstatcache.Result, st *fstatcache.Stat) {
	if r != fstatcache.Hit {
		fmt.Fprintf(w, "{\"path\":%s,\"status\":\"%s\"}\n", quote(path), r)
		return
	}
	source := "stat"
	if st.Source == fstatcache.SourceCache {
		source = "cache"
	}
	fmt.Fprintf(w, "{\"path\":%s,\"status\":\"hit\",\"exists\":%t,\"err\":%d,\"source\":\"%s\""+
		",\"dev\":%d,\"ino\":%d,\"mode\":%d,\"nlink\":%d"+
		",\"uid\":%d,\"gid\":%d,\"rdev\":%d"+
		",\"size\":%d,\"blocks\":%d"+
		",\"mtime_sec\":%d,\"mtime_nsec\":%d"+
		",\"ctime_sec\":%d,\"ctime_nsec\":%d",
		quote(path), st.Exists, int(st.Err), source,
		st.Dev, st.Ino, st.Mode, st.Nlink,
		st.UID, st.GID, st.Rdev,
		st.Size, st.Blocks,
		st.MtimeSec, st.MtimeNsec,
		st.CtimeSec, st.CtimeNsec)
	if st.Have&fstatcache.HaveBlksize != 0 {
		fmt.Fprintf(w, ",\"blksize\":%d", st.Blksize)
	} else {
		fmt.Fprint(w, ",\"blksize\":null")
	}
	if st.Have&fstatcache.HaveAtime != 0 {
		fmt.Fprintf(w, ",\"atime_sec\":%d,\"atime_nsec\":%d}\n", st.AtimeSec, st.AtimeNsec)
	} else {
		fmt.Fprint(w, ",\"atime_sec\":null,\"atime_nsec\":null}\n")
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "fscdump: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	args := os.Args[1:]
	many := len(args) == 2 && (args[0] == "-many" || args[0] == "--many")
	if many {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: fscdump [--many] NAME < PATHS")
		os.Exit(1)
	}
	h, err := fstatcache.Open(args[0], fstatcache.OpenAttached|fstatcache.OpenNoRequests)
	if err != nil {
		fail("open %s: %v", args[0], err)
	}
	defer h.Close()
	var paths []string
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadString('\n')
		if len(line) > 0 {
			paths = append(paths, strings.TrimSuffix(line, "\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("reading stdin: %v", err)
		}
	}
	st := make([]fstatcache.Stat, len(paths))
	res := make([]fstatcache.Result, len(paths))
	if many {
		h.LookupMany(paths, st, res)
	} else {
		for i, p := range paths {
			res[i] = h.Lookup(p, &st[i])
		}
	}
	out := bufio.NewWriter(os.Stdout)
	for i, p := range paths {
		answer(out, p, res[i], &st[i])
	}
	if err := out.Flush(); err != nil {
		h.Close()
		fail("writing stdout: %v", err)
	}
}
