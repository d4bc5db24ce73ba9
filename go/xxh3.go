package fstatcache

// The segment's key hash: XXH3_64bits_withSeed(path, len, hash_seed),
// written from the xxHash specification (doc/xxhash_spec.md of the xxHash
// project, "XXH3 Algorithm Description"); Debian packages no Go xxHash.
// Checked against libxxhash on every length class and several seeds by
// xxh3_test.go with tests/vectors/xxh3.txt.

import (
	"encoding/binary"
	"math/bits"
)

const (
	prime32_1 = 0x9E3779B1
	prime32_2 = 0x85EBCA77
	prime32_3 = 0xC2B2AE3D
	prime64_1 = 0x9E3779B185EBCA87
	prime64_2 = 0xC2B2AE3D27D4EB4F
	prime64_3 = 0x165667B19E3779F9
	prime64_4 = 0x85EBCA77C2B2AE63
	prime64_5 = 0x27D4EB2F165667C5
	primeMx1  = 0x165667919E3779F9
	primeMx2  = 0x9FB21C651E98DF25
)

// The default 192-byte secret of the specification.
var xxh3Secret = [192]byte{
	0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
	0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
	0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
	0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
	0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
	0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
	0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
	0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
	0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
	0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
	0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
	0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

func avalanche(x uint64) uint64 {
	x ^= x >> 37
	x *= primeMx1
	return x ^ x>>32
}

func avalancheXXH64(x uint64) uint64 {
	x ^= x >> 33
	x *= prime64_2
	x ^= x >> 29
	x *= prime64_3
	return x ^ x>>32
}

// mul128fold64: the 128-bit product of a and b, its halves xor'ed.
func mul128fold64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// XXH3 is XXH3_64bits_withSeed(in, len(in), seed).
func XXH3(in []byte, seed uint64) uint64 {
	n := len(in)
	switch {
	case n == 0:
		return avalancheXXH64(seed ^ le64(xxh3Secret[:], 56) ^ le64(xxh3Secret[:], 64))
	case n <= 3:
		return xxh3Len1to3(in, seed)
	case n <= 8:
		return xxh3Len4to8(in, seed)
	case n <= 16:
		return xxh3Len9to16(in, seed)
	case n <= 128:
		return xxh3Len17to128(in, seed)
	case n <= 240:
		return xxh3Len129to240(in, seed)
	}
	return xxh3Long(in, seed)
}

// XXH3String hashes a string without copying it.
func XXH3String(s string, seed uint64) uint64 {
	return XXH3(stringBytes(s), seed)
}

func xxh3Len1to3(in []byte, seed uint64) uint64 {
	n := len(in)
	combined := uint32(in[n-1]) | uint32(n)<<8 | uint32(in[0])<<16 | uint32(in[n>>1])<<24
	v := (uint64(le32(xxh3Secret[:], 0)^le32(xxh3Secret[:], 4)) + seed) ^ uint64(combined)
	return avalancheXXH64(v)
}

func xxh3Len4to8(in []byte, seed uint64) uint64 {
	n := len(in)
	first, last := le32(in, 0), le32(in, n-4)
	modSeed := seed ^ uint64(bits.ReverseBytes32(uint32(seed)))<<32
	combined := uint64(last) | uint64(first)<<32
	v := ((le64(xxh3Secret[:], 8) ^ le64(xxh3Secret[:], 16)) - modSeed) ^ combined
	v ^= bits.RotateLeft64(v, 49) ^ bits.RotateLeft64(v, 24)
	v *= primeMx2
	v ^= (v >> 35) + uint64(n)
	v *= primeMx2
	return v ^ v>>28
}

func xxh3Len9to16(in []byte, seed uint64) uint64 {
	n := len(in)
	lo := ((le64(xxh3Secret[:], 24) ^ le64(xxh3Secret[:], 32)) + seed) ^ le64(in, 0)
	hi := ((le64(xxh3Secret[:], 40) ^ le64(xxh3Secret[:], 48)) - seed) ^ le64(in, n-8)
	v := uint64(n) + bits.ReverseBytes64(lo) + hi + mul128fold64(lo, hi)
	return avalanche(v)
}

func mixStep(in []byte, off int, secOff int, seed uint64) uint64 {
	return mul128fold64(le64(in, off)^(le64(xxh3Secret[:], secOff)+seed),
		le64(in, off+8)^(le64(xxh3Secret[:], secOff+8)-seed))
}

func xxh3Len17to128(in []byte, seed uint64) uint64 {
	n := len(in)
	acc := uint64(n) * prime64_1
	for i := (n - 1) >> 5; i >= 0; i-- {
		acc += mixStep(in, i*16, i*32, seed)
		acc += mixStep(in, n-i*16-16, i*32+16, seed)
	}
	return avalanche(acc)
}

func xxh3Len129to240(in []byte, seed uint64) uint64 {
	n := len(in)
	acc := uint64(n) * prime64_1
	for i := 0; i < 8; i++ {
		acc += mixStep(in, i*16, i*16, seed)
	}
	acc = avalanche(acc)
	for i := 8; i < n>>4; i++ {
		acc += mixStep(in, i*16, (i-8)*16+3, seed)
	}
	acc += mixStep(in, n-16, 119, seed)
	return avalanche(acc)
}

// Inputs over 240 bytes: 64-byte stripes, blocks of 16 stripes (the
// default secret's 1024 bytes), with the secret derived from the seed.
func xxh3Long(in []byte, seed uint64) uint64 {
	var secret [192]byte
	for i := 0; i < 12; i++ {
		binary.LittleEndian.PutUint64(secret[16*i:], le64(xxh3Secret[:], 16*i)+seed)
		binary.LittleEndian.PutUint64(secret[16*i+8:], le64(xxh3Secret[:], 16*i+8)-seed)
	}
	acc := [8]uint64{prime32_3, prime64_1, prime64_2, prime64_3,
		prime64_4, prime32_2, prime64_5, prime32_1}
	const stripesPerBlock = (len(secret) - 64) / 8
	const blockSize = 64 * stripesPerBlock
	n := len(in)
	accumulate := func(off, secOff int) {
		for i := 0; i < 8; i++ {
			lane := le64(in, off+8*i)
			v := lane ^ le64(secret[:], secOff+8*i)
			acc[i^1] += lane
			acc[i] += (v & 0xffffffff) * (v >> 32)
		}
	}
	blocks := (n - 1) / blockSize
	for b := 0; b < blocks; b++ {
		for s := 0; s < stripesPerBlock; s++ {
			accumulate(b*blockSize+s*64, s*8)
		}
		for i := 0; i < 8; i++ {
			a := acc[i]
			a ^= a >> 47
			a ^= le64(secret[:], len(secret)-64+8*i)
			acc[i] = a * prime32_1
		}
	}
	last := n - blocks*blockSize
	for s := 0; s < (last-1)/64; s++ {
		accumulate(blocks*blockSize+s*64, s*8)
	}
	accumulate(n-64, len(secret)-71)
	result := uint64(n) * prime64_1
	for i := 0; i < 4; i++ {
		result += mul128fold64(acc[2*i]^le64(secret[:], 11+16*i),
			acc[2*i+1]^le64(secret[:], 11+16*i+8))
	}
	return avalanche(result)
}
