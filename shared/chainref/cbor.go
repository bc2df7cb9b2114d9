package chainref

import (
	"errors"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/blake2b"
)

// The walk below reads CBOR generically: fxamacker/cbor checks that each
// item is well formed and finds where it ends; the walker reads only the
// initial byte and argument of an item itself, to know whether it is an
// array, a map, a tag or a number. Every item keeps its original bytes, so
// hashes are taken over what is on chain, never over a re-encoding.

// decMode bounds what one item may hold. Cardano blocks are at most a few
// hundred KiB (the Byron genesis EBB, 648 KiB, is the largest shipped block).
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		MaxNestedLevels:  256,
	}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return dm
}()

// CBOR major types.
const (
	majorUint   = 0
	majorNint   = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// Tags the ledger uses.
const (
	tagEncodedCBOR = 24  // #6.24(bytes .cbor x)
	tagRational    = 30  // unit_interval, nonnegative_interval
	tagSet         = 258 // set<a>, nonempty_set<a> (Conway; optional before)
	tagAuxData     = 259 // Alonzo-style auxiliary data map
)

// span is one CBOR item's bytes, a sub-slice of the bytes it was read from
// (never copied: the caller keeps the block bytes alive and unchanged).
type span []byte

// UnmarshalCBOR keeps the item's bytes without copying. fxamacker hands an
// Unmarshaler the sub-slice of the input it decodes from (decode.go
// parseToUnmarshaler), and the walker only unmarshals from byte slices it owns.
func (s *span) UnmarshalCBOR(b []byte) error {
	*s = b
	return nil
}

// first splits the first well-formed item off b.
func first(b []byte) (item, rest []byte, err error) {
	var s span
	rest, err = decMode.UnmarshalFirst(b, &s)
	if err != nil {
		return nil, nil, err
	}
	return s, rest, nil
}

// whole checks that b is exactly one well-formed item.
func whole(b []byte) error {
	_, rest, err := first(b)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the item", len(rest))
	}
	return nil
}

// head reads an item's initial byte and argument. For indefinite-length
// strings, arrays and maps indef is true and arg is 0.
func head(b []byte) (major byte, arg uint64, indef bool, n int, err error) {
	if len(b) == 0 {
		return 0, 0, false, 0, errors.New("empty item")
	}
	major, info := b[0]>>5, b[0]&0x1f
	switch {
	case info < 24:
		return major, uint64(info), false, 1, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(b) < 1+size {
			return 0, 0, false, 0, errors.New("truncated item head")
		}
		for _, c := range b[1 : 1+size] {
			arg = arg<<8 | uint64(c)
		}
		return major, arg, false, 1 + size, nil
	case info == 31 && major >= majorBytes && major <= majorMap:
		return major, 0, true, 1, nil
	}
	return 0, 0, false, 0, fmt.Errorf("reserved additional information %d", info)
}

func majorName(m byte) string {
	return [...]string{"uint", "negative int", "bytes", "text", "array", "map", "tag", "simple"}[m&7]
}

// items returns the elements of an array, definite or indefinite.
func items(b []byte) ([][]byte, error) {
	major, n, indef, hl, err := head(b)
	if err != nil {
		return nil, err
	}
	if major != majorArray {
		return nil, fmt.Errorf("want array, have %s", majorName(major))
	}
	b = b[hl:]
	var out [][]byte
	if !indef {
		out = make([][]byte, 0, min(n, uint64(len(b))))
	}
	for i := uint64(0); indef || i < n; i++ {
		if indef && len(b) > 0 && b[0] == 0xff {
			break
		}
		var it []byte
		if it, b, err = first(b); err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// setItems returns the elements of set<a> or nonempty_set<a>: an array,
// optionally inside tag 258.
func setItems(b []byte) ([][]byte, error) {
	if t, content, ok := tagged(b); ok {
		if t != tagSet {
			return nil, fmt.Errorf("want set (tag 258), have tag %d", t)
		}
		b = content
	}
	return items(b)
}

// pair is one key and value of a map, in the order they are encoded.
type pair struct{ k, v []byte }

// pairs returns the entries of a map, definite or indefinite, in encoded
// order, duplicates included.
func pairs(b []byte) ([]pair, error) {
	major, n, indef, hl, err := head(b)
	if err != nil {
		return nil, err
	}
	if major != majorMap {
		return nil, fmt.Errorf("want map, have %s", majorName(major))
	}
	b = b[hl:]
	var out []pair
	if !indef {
		out = make([]pair, 0, min(n, uint64(len(b))))
	}
	for i := uint64(0); indef || i < n; i++ {
		if indef && len(b) > 0 && b[0] == 0xff {
			break
		}
		var p pair
		if p.k, b, err = first(b); err != nil {
			return nil, fmt.Errorf("map key %d: %w", i, err)
		}
		if p.v, b, err = first(b); err != nil {
			return nil, fmt.Errorf("map value %d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// tagged reports whether b is a tag, with its number and content.
func tagged(b []byte) (tag uint64, content []byte, ok bool) {
	major, t, _, hl, err := head(b)
	if err != nil || major != majorTag {
		return 0, nil, false
	}
	return t, b[hl:], true
}

func isNull(b []byte) bool { return len(b) == 1 && b[0] == 0xf6 }

// uintOf reads an unsigned integer of at most 64 bits (no bignums: the ledger
// has none outside Plutus data).
func uintOf(b []byte) (uint64, error) {
	major, v, _, _, err := head(b)
	if err != nil {
		return 0, err
	}
	if major != majorUint {
		return 0, fmt.Errorf("want uint, have %s", majorName(major))
	}
	return v, nil
}

// intOf reads a signed integer that fits in an int64.
func intOf(b []byte) (int64, error) {
	major, v, _, _, err := head(b)
	if err != nil {
		return 0, err
	}
	switch major {
	case majorUint:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("integer %d overflows int64", v)
		}
		return int64(v), nil
	case majorNint:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("integer -1-%d overflows int64", v)
		}
		return -1 - int64(v), nil
	}
	return 0, fmt.Errorf("want int, have %s", majorName(major))
}

// bytesOf returns a byte string's content (a sub-slice for definite strings;
// chunked strings are joined).
func bytesOf(b []byte) ([]byte, error) {
	major, n, indef, hl, err := head(b)
	if err != nil {
		return nil, err
	}
	if major != majorBytes {
		return nil, fmt.Errorf("want bytes, have %s", majorName(major))
	}
	if indef {
		var out []byte
		if err := decMode.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	if uint64(len(b)-hl) < n {
		return nil, errors.New("truncated byte string")
	}
	return b[hl : hl+int(n)], nil
}

// hashOf reads a byte string of exactly size bytes.
func hashOf(b []byte, size int) ([]byte, error) {
	h, err := bytesOf(b)
	if err != nil {
		return nil, err
	}
	if len(h) != size {
		return nil, fmt.Errorf("want %d-byte hash, have %d bytes", size, len(h))
	}
	return h, nil
}

// textOf reads a text string.
func textOf(b []byte) (string, error) {
	major, _, _, _, err := head(b)
	if err != nil {
		return "", err
	}
	if major != majorText {
		return "", fmt.Errorf("want text, have %s", majorName(major))
	}
	var s string
	if err := decMode.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

func boolOf(b []byte) (bool, error) {
	if len(b) == 1 && (b[0] == 0xf4 || b[0] == 0xf5) {
		return b[0] == 0xf5, nil
	}
	return false, errors.New("want bool")
}

// encodedCBOR reads #6.24(bytes .cbor x) and returns x's bytes, checked to be
// one well-formed item.
func encodedCBOR(b []byte) ([]byte, error) {
	t, content, ok := tagged(b)
	if !ok || t != tagEncodedCBOR {
		return nil, errors.New("want #6.24(bytes)")
	}
	inner, err := bytesOf(content)
	if err != nil {
		return nil, err
	}
	if err := whole(inner); err != nil {
		return nil, fmt.Errorf("tag 24 content: %w", err)
	}
	return inner, nil
}

// array reads an array of exactly n elements (or between lo and hi with arrayN).
func array(b []byte, n int) ([][]byte, error) { return arrayN(b, n, n) }

func arrayN(b []byte, lo, hi int) ([][]byte, error) {
	it, err := items(b)
	if err != nil {
		return nil, err
	}
	if len(it) < lo || len(it) > hi {
		if lo == hi {
			return nil, fmt.Errorf("want array of %d, have %d", lo, len(it))
		}
		return nil, fmt.Errorf("want array of %d to %d, have %d", lo, hi, len(it))
	}
	return it, nil
}

// Blake2b256 is the ledger's 32-byte hash (block, transaction and datum hashes).
func Blake2b256(parts ...[]byte) []byte {
	h, _ := blake2b.New256(nil)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// Blake2b224 is the ledger's 28-byte hash (key and script hashes).
func Blake2b224(parts ...[]byte) []byte {
	h, _ := blake2b.New(28, nil)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}
