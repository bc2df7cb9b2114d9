package follower

import (
	"github.com/fxamacker/cbor/v2"
)

// looseHeader is what can be read of a header that gouroboros does not
// decode (the first block of an era it does not know, a field of an
// unexpected type), on the shape every era since Shelley shares: a block is
// [header, ...], a header is [header_body, signature], and the body begins
// with block number, slot and previous hash (null for the first block). Each
// field is taken only when it has the expected type. (The block's own hash,
// the Blake2b-256 of the header's bytes, is not taken from here: a damaged
// header would give a wrong one. The next block names it.)
type looseHeader struct {
	blockNo, slot       uint64
	hasBlockNo, hasSlot bool
	prevHash            []byte
	hasPrev             bool
}

var looseDec, _ = cbor.DecOptions{MaxArrayElements: 1 << 16, MaxNestedLevels: 64}.DecMode()

// readLooseHeader reads a looseHeader from a block of a Shelley-family era
// (block type 2 and later); ok is false when the header is not an array of
// an array.
func readLooseHeader(blockType uint, raw []byte) (h looseHeader, ok bool) {
	if blockType < 2 { // Byron's hashes and layout differ
		return h, false
	}
	var parts []cbor.RawMessage
	if looseDec.Unmarshal(raw, &parts) != nil || len(parts) == 0 {
		return h, false
	}
	var hdr []cbor.RawMessage
	if looseDec.Unmarshal(parts[0], &hdr) != nil || len(hdr) == 0 {
		return h, false
	}
	var body []cbor.RawMessage
	if looseDec.Unmarshal(hdr[0], &body) != nil {
		return h, false
	}
	if len(body) > 0 && looseDec.Unmarshal(body[0], &h.blockNo) == nil {
		h.hasBlockNo = true
	}
	if len(body) > 1 && looseDec.Unmarshal(body[1], &h.slot) == nil {
		h.hasSlot = true
	}
	if len(body) > 2 {
		var prev []byte
		if looseDec.Unmarshal(body[2], &prev) == nil && (prev == nil || len(prev) == 32) {
			h.prevHash, h.hasPrev = prev, true
		}
	}
	return h, true
}
