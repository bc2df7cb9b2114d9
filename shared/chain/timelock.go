package chain

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/blinklabs-io/gouroboros/cbor"
)

// maxTimelockDepth bounds the nesting of a native script rendered as JSON;
// real scripts nest a few levels.
const maxTimelockDepth = 64

// timelockJSON renders a native (timelock or Shelley multisig) script's CBOR
// as db-sync's script.json holds it (its Generic/Script.hs, cardano-api's
// simple-script format), with keys in aeson's order:
//
//	[0, keyhash]       {"keyHash":"<hex>","type":"sig"}
//	[1, [scripts]]     {"scripts":[...],"type":"all"}
//	[2, [scripts]]     {"scripts":[...],"type":"any"}
//	[3, n, [scripts]]  {"required":n,"scripts":[...],"type":"atLeast"}
//	[4, slot]          {"slot":slot,"type":"after"}   (invalid before slot)
//	[5, slot]          {"slot":slot,"type":"before"}  (invalid from slot on)
//
// The script's bytes are read head by head (cborscan.go); one that is not in
// the form above, with definite lengths and small unsigned integers, is
// decoded in full, which reports what is wrong with it.
func timelockJSON(raw []byte) (string, error) {
	var stack [256]byte
	if b, _, ok := appendTimelockScan(stack[:0], raw, 0, 0); ok {
		return string(b), nil
	}
	b, err := appendTimelock(nil, raw, 0)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendTimelockScan is appendTimelock for the script at raw[i:], without
// decoding: ok is false where it would not give the same text.
func appendTimelockScan(b, raw []byte, i, depth int) (_ []byte, next int, ok bool) {
	major, n, indef, i, ok := cborHead(raw, i)
	if !ok || major != 4 || indef || n == 0 || depth > maxTimelockDepth {
		return nil, 0, false
	}
	major, tag, indef, i, ok := cborHead(raw, i)
	if !ok || major != 0 || indef {
		return nil, 0, false
	}
	uintAt := func(i int) (uint64, int, bool) {
		major, v, indef, i, ok := cborHead(raw, i)
		return v, i, ok && major == 0 && !indef
	}
	scripts := func(b []byte, i int) ([]byte, int, bool) {
		if i+3 <= len(raw) && raw[i] == 0xd9 && raw[i+1] == 0x01 && raw[i+2] == 0x02 {
			i += 3 // a tag-258 set (untagSet)
		}
		major, n, indef, i, ok := cborHead(raw, i)
		if !ok || major != 4 || indef {
			return nil, 0, false
		}
		b = append(b, `"scripts":[`...)
		for j := range n {
			if j > 0 {
				b = append(b, ',')
			}
			if b, i, ok = appendTimelockScan(b, raw, i, depth+1); !ok {
				return nil, 0, false
			}
		}
		return append(b, ']'), i, true
	}
	switch {
	case tag == 0 && n == 2:
		major, l, indef, j, ok := cborHead(raw, i)
		if !ok || major != 2 || indef || l > uint64(len(raw)-j) {
			return nil, 0, false
		}
		b = append(b, `{"keyHash":"`...)
		b = hex.AppendEncode(b, raw[j:j+int(l)])
		return append(b, `","type":"sig"}`...), j + int(l), true
	case (tag == 1 || tag == 2) && n == 2:
		if b, i, ok = scripts(append(b, '{'), i); !ok {
			return nil, 0, false
		}
		if tag == 1 {
			return append(b, `,"type":"all"}`...), i, true
		}
		return append(b, `,"type":"any"}`...), i, true
	case tag == 3 && n == 3:
		req, i, ok := uintAt(i)
		if !ok {
			return nil, 0, false
		}
		b = strconv.AppendUint(append(b, `{"required":`...), req, 10)
		if b, i, ok = scripts(append(b, ','), i); !ok {
			return nil, 0, false
		}
		return append(b, `,"type":"atLeast"}`...), i, true
	case (tag == 4 || tag == 5) && n == 2:
		slot, i, ok := uintAt(i)
		if !ok {
			return nil, 0, false
		}
		b = strconv.AppendUint(append(b, `{"slot":`...), slot, 10)
		if tag == 4 {
			return append(b, `,"type":"after"}`...), i, true
		}
		return append(b, `,"type":"before"}`...), i, true
	}
	return nil, 0, false
}

func appendTimelock(b, raw []byte, depth int) ([]byte, error) {
	if depth > maxTimelockDepth {
		return nil, errors.New("native script nested too deep")
	}
	var parts []cbor.RawMessage
	if _, err := cbor.Decode(raw, &parts); err != nil || len(parts) == 0 {
		return nil, fmt.Errorf("native script is not a non-empty array: %v", err)
	}
	var tag uint64
	if _, err := cbor.Decode(parts[0], &tag); err != nil {
		return nil, fmt.Errorf("native script tag: %w", err)
	}
	uintAt := func(i int) (uint64, error) {
		var n uint64
		if i >= len(parts) {
			return 0, fmt.Errorf("native script %d: missing field %d", tag, i)
		}
		if _, err := cbor.Decode(parts[i], &n); err != nil {
			return 0, fmt.Errorf("native script %d field %d: %w", tag, i, err)
		}
		return n, nil
	}
	scripts := func(b []byte, i int) ([]byte, error) {
		if i >= len(parts) {
			return nil, fmt.Errorf("native script %d: missing scripts", tag)
		}
		var subs []cbor.RawMessage
		if _, err := cbor.Decode(untagSet(parts[i]), &subs); err != nil {
			return nil, fmt.Errorf("native script %d scripts: %w", tag, err)
		}
		b = append(b, `"scripts":[`...)
		for j, sub := range subs {
			if j > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendTimelock(b, sub, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var err error
	switch tag {
	case 0:
		if len(parts) != 2 {
			return nil, errors.New("native script sig: want 2 fields")
		}
		var h []byte
		if _, err := cbor.Decode(parts[1], &h); err != nil {
			return nil, fmt.Errorf("native script sig key hash: %w", err)
		}
		b = append(b, `{"keyHash":"`...)
		b = hex.AppendEncode(b, h)
		b = append(b, `","type":"sig"}`...)
	case 1, 2:
		b = append(b, '{')
		if b, err = scripts(b, 1); err != nil {
			return nil, err
		}
		if tag == 1 {
			b = append(b, `,"type":"all"}`...)
		} else {
			b = append(b, `,"type":"any"}`...)
		}
	case 3:
		n, err := uintAt(1)
		if err != nil {
			return nil, err
		}
		b = append(b, `{"required":`...)
		b = strconv.AppendUint(b, n, 10)
		b = append(b, ',')
		if b, err = scripts(b, 2); err != nil {
			return nil, err
		}
		b = append(b, `,"type":"atLeast"}`...)
	case 4, 5:
		slot, err := uintAt(1)
		if err != nil {
			return nil, err
		}
		b = append(b, `{"slot":`...)
		b = strconv.AppendUint(b, slot, 10)
		if tag == 4 {
			b = append(b, `,"type":"after"}`...)
		} else {
			b = append(b, `,"type":"before"}`...)
		}
	default:
		return nil, fmt.Errorf("unknown native script tag %d", tag)
	}
	return b, nil
}

// untagSet strips a CBOR tag 258 (set) head.
func untagSet(raw []byte) []byte {
	if len(raw) > 3 && raw[0] == 0xd9 && raw[1] == 0x01 && raw[2] == 0x02 {
		return raw[3:]
	}
	return raw
}
