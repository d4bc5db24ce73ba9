package fstatcache

import "testing"

// A hit in the sample segment (tests/vectors), for profiling the probe;
// speed claims come from bench/go, side by side with stat(2).
func BenchmarkLookupSample(b *testing.B) {
	name := sampleInstance(b)
	h, err := Open(name, OpenAttached)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	var s Stat
	for i := 0; i < b.N; i++ {
		if h.Lookup("/var/log/nginx/access.log", &s) != Hit {
			b.Fatal("not a hit")
		}
	}
}
