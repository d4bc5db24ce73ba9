package fstatcache

import "unsafe"

// The layout of a string header (Go 1.19 has no unsafe.StringData).
type stringHeader struct {
	data unsafe.Pointer
	len  int
}

// stringBytes views s as bytes without copying; never written to.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice((*byte)((*stringHeader)(unsafe.Pointer(&s)).data), len(s))
}
