package fstatcache

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The vectors libxxhash computed (tests/vectors/gen_xxh3.c).
func TestXXH3Vectors(t *testing.T) {
	f, err := os.Open("../tests/vectors/xxh3.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4200)
	for i := range buf {
		buf[i] = byte(uint32(i) * 0x9E3779B1 >> 24)
	}
	sc := bufio.NewScanner(f)
	count := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		w := strings.Fields(sc.Text())
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		hex := func(s string) uint64 {
			v, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			return v
		}
		switch {
		case w[0] == "buf" && len(w) == 4:
			seed, want := hex(w[1]), hex(w[3])
			n, err := strconv.Atoi(w[2])
			if err != nil || n > len(buf) {
				t.Fatalf("line %d: bad length %q", line, w[2])
			}
			if got := XXH3(buf[:n], seed); got != want {
				t.Errorf("line %d: len %d seed %016x: %016x, want %016x",
					line, n, seed, got, want)
			}
		case w[0] == "path" && len(w) == 4:
			seed, want := hex(w[1]), hex(w[2])
			if got := XXH3String(w[3], seed); got != want {
				t.Errorf("line %d: %q seed %016x: %016x, want %016x",
					line, w[3], seed, got, want)
			}
		default:
			t.Fatalf("line %d: cannot parse %q", line, sc.Text())
		}
		count[w[0]]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if count["buf"] < 2000 || count["path"] < 10 {
		t.Fatalf("too few vectors: %v", count)
	}
}
