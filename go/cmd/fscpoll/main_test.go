package main

// The example agent against a real writer: what a log shipper must learn
// (growth, truncation, rotation, removal) comes out of the change feed.

import (
	"os"
	"strings"
	"testing"

	"fstatcache.example/go/fstatcache"
	"fstatcache.example/go/fstatcache/internal/writertest"
)

func TestAgentFollowsFiles(t *testing.T) {
	w := writertest.Start(t)
	h, err := fstatcache.Open(w.Name, fstatcache.OpenAttached)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log, later := w.Path("app.log"), w.Path("later.log")
	writertest.WriteFile(t, log, "one\n", false)
	var out strings.Builder
	a := &agent{h: h, files: map[string]*file{log: {}, later: {}}, out: &out}
	var cur fstatcache.Cursor
	step := func(what string, change func(), want ...string) {
		t.Helper()
		out.Reset()
		change()
		if err := h.Sync(writertest.Guard); err != nil {
			t.Fatal(err)
		}
		a.poll(&cur)
		for _, s := range want {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: output %q lacks %q", what, out.String(), s)
			}
		}
	}
	step("start", func() {}, "app.log: 4 bytes", "later.log: does not exist")
	step("append", func() { writertest.WriteFile(t, log, "two\n", true) }, "app.log: grew by 4 bytes")
	step("create", func() { writertest.WriteFile(t, later, "x", false) }, "later.log: appeared, 1 bytes")
	step("truncate", func() {
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
	}, "app.log: truncated to 0 bytes")
	step("rotate", func() {
		writertest.WriteFile(t, log+".new", "fresh\n", false)
		if err := os.Rename(log+".new", log); err != nil {
			t.Fatal(err)
		}
	}, "app.log: replaced (rotated), 6 bytes")
	step("remove", func() {
		if err := os.Remove(later); err != nil {
			t.Fatal(err)
		}
	}, "later.log: gone")
	out.Reset()
	a.poll(&cur)
	if out.Len() != 0 {
		t.Errorf("an idle poll printed %q", out.String())
	}
	w.Stop()
}
