package chain

import "encoding/binary"

// A shallow CBOR reader for the few facts gouroboros does not keep (which
// keys a map holds), read from bytes gouroboros has already decoded: it
// walks item heads without building values.

// cborHead reads the head of the item at b[i:]: its major type, its argument
// (a length, a count, a value or a tag number), whether its length is
// indefinite, and where its content starts.
func cborHead(b []byte, i int) (major byte, arg uint64, indefinite bool, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false, 0, false
	}
	major, ai := b[i]>>5, b[i]&31
	i++
	switch {
	case ai < 24:
		return major, uint64(ai), false, i, true
	case ai == 24 && i+1 <= len(b):
		return major, uint64(b[i]), false, i + 1, true
	case ai == 25 && i+2 <= len(b):
		return major, uint64(binary.BigEndian.Uint16(b[i:])), false, i + 2, true
	case ai == 26 && i+4 <= len(b):
		return major, uint64(binary.BigEndian.Uint32(b[i:])), false, i + 4, true
	case ai == 27 && i+8 <= len(b):
		return major, binary.BigEndian.Uint64(b[i:]), false, i + 8, true
	case ai == 31 && major >= 2 && major <= 5:
		return major, 0, true, i, true
	}
	return 0, 0, false, 0, false
}

// cborSkip returns where the item at b[i:] ends.
func cborSkip(b []byte, i int) (int, bool) {
	major, arg, indefinite, i, ok := cborHead(b, i)
	if !ok {
		return 0, false
	}
	if indefinite {
		// Chunks of a string, items of an array, keys and values of a map,
		// up to the break byte.
		for {
			if i >= len(b) {
				return 0, false
			}
			if b[i] == 0xff {
				return i + 1, true
			}
			if i, ok = cborSkip(b, i); !ok {
				return 0, false
			}
		}
	}
	switch major {
	case 2, 3:
		if arg > uint64(len(b)-i) {
			return 0, false
		}
		return i + int(arg), true
	case 4, 5:
		n := arg
		if major == 5 {
			if n > uint64(len(b)) {
				return 0, false
			}
			n *= 2
		}
		for ; n > 0; n-- {
			if i, ok = cborSkip(b, i); !ok {
				return 0, false
			}
		}
		return i, true
	case 6:
		return cborSkip(b, i)
	}
	return i, true // integers and simple values: the head is the item
}

// cborMapHasUintKey says whether the map at b[i:] holds the unsigned key k.
// decided is false when the map is not one of distinct small unsigned keys
// (a transaction body always is), for the caller to read it in full.
func cborMapHasUintKey(b []byte, i int, k uint64) (has, decided bool) {
	major, n, indefinite, i, ok := cborHead(b, i)
	if !ok || major != 5 {
		return false, false
	}
	var seen uint64
	for e := uint64(0); indefinite || e < n; e++ {
		if indefinite {
			if i >= len(b) {
				return false, false
			}
			if b[i] == 0xff {
				break
			}
		}
		km, key, kIndef, next, ok := cborHead(b, i)
		if !ok || km != 0 || kIndef || key >= 64 || seen&(1<<key) != 0 {
			return false, false
		}
		seen |= 1 << key
		if i, ok = cborSkip(b, next); !ok {
			return false, false
		}
	}
	return k < 64 && seen&(1<<k) != 0, true
}
