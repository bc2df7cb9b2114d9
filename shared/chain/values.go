package chain

import (
	"bytes"
	"cmp"
	"slices"
)

// An output's value read from the output's CBOR, head by head (cborscan.go),
// instead of through gouroboros's accessors, which build a big.Int for the
// coin on every call and copy every asset name into a map and out again.
// Only the common form is read: definite lengths, unsigned quantities,
// distinct keys. Anything else is left to gouroboros (ok is false), as are
// the values of collateral outputs and mints.

// assetEntry is one asset of a value: subslices of the output's CBOR.
type assetEntry struct {
	policy, name []byte
	qty          uint64
}

func cmpAssetEntry(a, b assetEntry) int {
	// The order of the rows' keys (see Key): policy bytes (all 28 long),
	// then the name's length, then its bytes.
	return cmp.Or(bytes.Compare(a.policy, b.policy), cmp.Compare(len(a.name), len(b.name)), bytes.Compare(a.name, b.name))
}

// outputValue reads an output's coin and its assets with a quantity (the
// ledger, and gouroboros, drop zero quantities), in key order, appended to
// entries[:0].
func outputValue(raw []byte, entries []assetEntry) (coin uint64, assets []assetEntry, ok bool) {
	i, ok := outputField(raw, 1)
	if !ok {
		return 0, nil, false
	}
	major, n, indef, i, ok := cborHead(raw, i)
	switch {
	case !ok || indef:
		return 0, nil, false
	case major == 0:
		return n, entries[:0], true // a coin alone
	case major != 4 || n != 2:
		return 0, nil, false
	}
	if major, coin, indef, i, ok = cborHead(raw, i); !ok || major != 0 || indef {
		return 0, nil, false
	}
	assets, ok = readMultiAsset(raw, i, entries[:0])
	return coin, assets, ok
}

// outputCoin reads an output's coin alone.
func outputCoin(raw []byte) (uint64, bool) {
	i, ok := outputField(raw, 1)
	if !ok {
		return 0, false
	}
	major, n, indef, i, ok := cborHead(raw, i)
	switch {
	case !ok || indef:
		return 0, false
	case major == 0:
		return n, true
	case major != 4 || n != 2:
		return 0, false
	}
	major, coin, indef, _, ok := cborHead(raw, i)
	return coin, ok && major == 0 && !indef
}

// outputField finds the item at the given position of an array output, or
// under that key of a map output.
func outputField(raw []byte, field uint64) (int, bool) {
	major, n, indef, i, ok := cborHead(raw, 0)
	if !ok || indef {
		return 0, false
	}
	switch major {
	case 4:
		if field >= n {
			return 0, false
		}
		for range field {
			if i, ok = cborSkip(raw, i); !ok {
				return 0, false
			}
		}
		return i, true
	case 5:
		for ; n > 0; n-- {
			km, k, kIndef, next, ok := cborHead(raw, i)
			if !ok || km != 0 || kIndef {
				return 0, false
			}
			if k == field {
				return next, true
			}
			if i, ok = cborSkip(raw, next); !ok {
				return 0, false
			}
		}
	}
	return 0, false
}

// readMultiAsset reads the map {policy: {name: quantity}} at raw[i:].
func readMultiAsset(raw []byte, i int, out []assetEntry) ([]assetEntry, bool) {
	major, policies, indef, i, ok := cborHead(raw, i)
	if !ok || major != 5 || indef {
		return nil, false
	}
	var prevPolicy []byte
	for range policies {
		var policy []byte
		if policy, i, ok = readBytes(raw, i); !ok || len(policy) != 28 {
			return nil, false
		}
		major, names, indef, j, ok := cborHead(raw, i)
		if !ok || major != 5 || indef {
			return nil, false
		}
		i = j
		start := len(out)
		for range names {
			var name []byte
			if name, i, ok = readBytes(raw, i); !ok || len(name) > 32 {
				return nil, false
			}
			var qty uint64
			if major, qty, indef, i, ok = cborHead(raw, i); !ok || major != 0 || indef {
				return nil, false
			}
			// A zero quantity is dropped, but its name still counts for
			// repeats: a repeated key is decoded by gouroboros (last wins).
			out = append(out, assetEntry{policy: policy, name: name, qty: qty})
		}
		seg := out[start:]
		slices.SortFunc(seg, cmpAssetEntry)
		for k := 1; k < len(seg); k++ {
			if bytes.Equal(seg[k-1].name, seg[k].name) {
				return nil, false
			}
		}
		if prevPolicy != nil && bytes.Compare(prevPolicy, policy) >= 0 {
			// Out of order, or repeated: sorted below, or left to gouroboros.
			if dup := slices.ContainsFunc(out[:start], func(e assetEntry) bool { return bytes.Equal(e.policy, policy) }); dup {
				return nil, false
			}
		}
		prevPolicy = policy
	}
	if !slices.IsSortedFunc(out, cmpAssetEntry) {
		slices.SortFunc(out, cmpAssetEntry)
		for k := 1; k < len(out); k++ {
			if bytes.Equal(out[k-1].policy, out[k].policy) && bytes.Equal(out[k-1].name, out[k].name) {
				return nil, false
			}
		}
	}
	kept := out[:0]
	for _, e := range out {
		if e.qty != 0 {
			kept = append(kept, e)
		}
	}
	return kept, true
}

// readBytes reads a definite byte string at raw[i:].
func readBytes(raw []byte, i int) ([]byte, int, bool) {
	major, l, indef, i, ok := cborHead(raw, i)
	if !ok || major != 2 || indef || l > uint64(len(raw)-i) {
		return nil, 0, false
	}
	return raw[i : i+int(l)], i + int(l), true
}
