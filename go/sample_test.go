package fstatcache

// The Go reader against the sample segment of tests/vectors/ (made by
// gen_sample.c): the same answers tests/test_vectors.c checks the C
// reader against.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

const vectorsDir = "../tests/vectors"

// sampleInstance copies the sample's objects under a fresh name into
// /dev/shm (owned by us, 0600) and removes them when the test ends.
func sampleInstance(t testing.TB) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("g%dx%s", os.Getpid(), hex.EncodeToString(r[:]))
	for _, o := range []struct{ file, suffix string }{{"sample.table", ""}, {"sample.feed", ".feed"}} {
		data, err := os.ReadFile(vectorsDir + "/" + o.file)
		if err != nil {
			t.Fatal(err)
		}
		shm := "/dev/shm/fstatcache." + name + o.suffix
		f, err := os.OpenFile(shm, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(shm) })
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return name
}

// describe an answer in the words of sample.answers.
func describeStat(s *Stat) string {
	if !s.Exists {
		return " exists=0"
	}
	d := fmt.Sprintf(" exists=1 mode=%d uid=%d gid=%d dev=%d ino=%d nlink=%d rdev=%d size=%d blocks=%d mtime=%d.%09d ctime=%d.%09d",
		s.Mode, s.UID, s.GID, s.Dev, s.Ino, s.Nlink, s.Rdev, s.Size, s.Blocks,
		s.MtimeSec, s.MtimeNsec, s.CtimeSec, s.CtimeNsec)
	if s.Have&HaveBlksize != 0 {
		d += fmt.Sprintf(" blksize=%d", s.Blksize)
	}
	if s.Have&HaveAtime != 0 {
		d += fmt.Sprintf(" atime=%d.%09d", s.AtimeSec, s.AtimeNsec)
	}
	return d
}

func TestSampleAnswers(t *testing.T) {
	name := sampleInstance(t)
	h, err := Open(name, OpenAttached|OpenNoRequests)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := os.Open(vectorsDir + "/sample.answers")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var got []string // change lines of the last walk not yet compared
	lookups, walks, changes := 0, 0, 0
	for sc.Scan() {
		line := sc.Text()
		w := strings.Fields(line)
		if len(w) == 0 || strings.HasPrefix(w[0], "#") || w[0] == "header" {
			continue
		}
		switch w[0] {
		case "lookup":
			var s Stat
			r := h.Lookup(w[1], &s)
			fields := ""
			if r == Hit {
				fields = describeStat(&s)
			}
			if g := "lookup " + w[1] + " " + r.String() + fields; g != line {
				t.Errorf("got  %s\nwant %s", g, line)
			}
			out, res := make([]Stat, 1), make([]Result, 1)
			h.LookupMany([]string{w[1]}, out, res)
			if res[0] != r {
				t.Errorf("%s: LookupMany %v, Lookup %v", w[1], res[0], r)
			}
			lookups++
		case "walk":
			if len(got) != 0 {
				t.Errorf("%d changes not in the answers: %q", len(got), got)
			}
			cur, err := ParseCursor(w[1])
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			resync, err := h.Changes(&cur, func(c *Change) bool {
				fields := ""
				if c.Status == Hit {
					fields = describeStat(&c.Stat)
				}
				got = append(got, fmt.Sprintf("change %s %s %s%s", c.Kind, c.Status, c.Path, fields))
				return true
			})
			res := "ok"
			if err != nil {
				res = "error " + err.Error()
			} else if resync {
				res = "resync"
			}
			if res != w[2] || cur.String() != w[3] || fmt.Sprint(len(got)) != w[4] {
				t.Errorf("walk from %s: %s %s %d, want %s %s %s", w[1], res, cur, len(got), w[2], w[3], w[4])
			}
			walks++
		case "change":
			if len(got) == 0 {
				t.Errorf("missing change: %s", line)
				continue
			}
			if got[0] != line {
				t.Errorf("got  %s\nwant %s", got[0], line)
			}
			got = got[1:]
			changes++
		default:
			t.Fatalf("cannot parse %q", line)
		}
	}
	if lookups < 20 || walks < 9 || changes < 19 {
		t.Errorf("too few answers checked: %d lookups, %d walks, %d changes", lookups, walks, changes)
	}
}

// A squatter's object (writable by others) is refused, as the C reader does.
func TestSampleSquatter(t *testing.T) {
	name := sampleInstance(t)
	if err := os.Chmod("/dev/shm/fstatcache."+name, 0666); err != nil {
		t.Fatal(err)
	}
	_, err := Open(name, OpenAttached)
	if !IsErrno(err, syscall.EPERM) {
		t.Fatalf("open of a 0666 segment: %v, want EPERM", err)
	}
}

// A segment whose size is not the header's is refused (SIGBUS guard).
func TestSampleTruncated(t *testing.T) {
	name := sampleInstance(t)
	if err := os.Truncate("/dev/shm/fstatcache."+name, 4096+192); err != nil {
		t.Fatal(err)
	}
	_, err := Open(name, OpenAttached)
	if !IsErrno(err, syscall.EPROTO) {
		t.Fatalf("open of a truncated segment: %v, want EPROTO", err)
	}
}

// patch32 stores v at off of the instance's table object.
func patch32(t testing.TB, name string, off int64, v uint32) {
	f, err := os.OpenFile("/dev/shm/fstatcache."+name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [4]byte
	hostOrder.PutUint32(b[:], v)
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// patch64 stores v at off of the instance's table object.
func patch64(t testing.TB, name string, off int64, v uint64) {
	f, err := os.OpenFile("/dev/shm/fstatcache."+name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	hostOrder.PutUint64(b[:], v)
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// Every header the C reader refuses, refused alike (contract.h,
// reader/attach.h).
func TestSampleRefusals(t *testing.T) {
	cases := []struct {
		what string
		off  int64
		v    uint32
		want syscall.Errno
	}{
		{"the major before", hVersionMajor, 1, syscall.EPROTONOSUPPORT},
		{"the major after", hVersionMajor, 3, syscall.EPROTONOSUPPORT},
		{"a newer minor", hVersionMinor, 9, 0},
		{"status INIT", hStatus, statusInit, syscall.EAGAIN},
		{"status REVALIDATING", hStatus, statusRevalidating, syscall.ENOENT},
		{"status RETIRED", hStatus, statusRetired, syscall.ENOENT},
		{"a dead writer", hWriterAlive, 1 | writerDied, syscall.ENOENT},
		{"a clean stop", hWriterAlive, 0, syscall.ENOENT},
		{"slots not a power of two", hSlotCount, 17, syscall.EPROTO},
		{"a probe limit over the slots", hProbeLimit, 17, syscall.EPROTO},
		{"no probe limit", hProbeLimit, 0, syscall.EPROTO},
		{"path_max not 8-aligned", hPathMax, 60, syscall.EPROTO},
		{"entry_size not the segment's", hEntrySize, 248, syscall.EPROTO},
		{"another header size", hHeaderSize, 8192, syscall.EPROTO},
		{"a byte-swapped magic", hMagic + 4, 0x46535441, syscall.EPROTO},
		{"a socket path not absolute", hSocketPath, 0x6e6f6e2e, syscall.EPROTO},
	}
	for _, c := range cases {
		name := sampleInstance(t)
		patch32(t, name, c.off, c.v)
		h, err := Open(name, OpenAttached)
		if c.want == 0 {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", c.what, err)
			} else {
				h.Close()
			}
			continue
		}
		if !IsErrno(err, c.want) {
			t.Errorf("%s: %v, want %v", c.what, err, c.want)
		}
	}
}

// The entry_size rule alone: the segment's size made the header's, so
// that only the rule can refuse.  A slot must hold the 96-byte head, the
// path area and the 16-byte cold tail (format 2); a newer minor's longer
// slots are read.
func TestSampleEntrySize(t *testing.T) {
	table, err := os.ReadFile(vectorsDir + "/sample.table")
	if err != nil {
		t.Fatal(err)
	}
	slots := uint64(hostOrder.Uint32(table[hSlotCount:]))
	pm := hostOrder.Uint32(table[hPathMax:])
	if es := hostOrder.Uint32(table[hEntrySize:]); es != entrySize(pm) {
		t.Fatalf("the sample's entry_size %d, want %d for path_max %d", es, entrySize(pm), pm)
	}
	for _, c := range []struct {
		what string
		es   uint32
		want syscall.Errno
	}{
		{"head, path area and cold tail", entryFixed + pm + entryCold, 0},
		{"a newer minor's, 4096 bytes more", entrySize(pathMaxMax) + 4096, 0},
		{"no room for the cold tail", entryFixed + pm + 8, syscall.EPROTO},
		{"head and path area only (1.x)", entryFixed + pm, syscall.EPROTO},
		{"not a multiple of 8", entrySize(pm) + 4, syscall.EPROTO},
		{"over 4096 bytes more", entrySize(pathMaxMax) + 4096 + 8, syscall.EPROTO},
	} {
		name := sampleInstance(t)
		size := headerSize + slots*uint64(c.es)
		patch32(t, name, hEntrySize, c.es)
		patch64(t, name, hSegmentSize, size)
		if err := os.Truncate("/dev/shm/fstatcache."+name, int64(size)); err != nil {
			t.Fatal(err)
		}
		h, err := Open(name, OpenAttached)
		if c.want == 0 {
			if err != nil {
				t.Errorf("%s (%d): %v, want it accepted", c.what, c.es, err)
			} else {
				h.Close()
			}
			continue
		}
		if !IsErrno(err, c.want) {
			t.Errorf("%s (%d): %v, want %v", c.what, c.es, err, c.want)
		}
	}
}
