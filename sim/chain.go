package sim

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/blake2b"

	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// chainGen makes the chain a schedule's node serves: a window of real
// preview blocks, each possibly rewritten as a variant so that forks hold
// blocks of their own. Variant 0 of a block is its real CBOR; variant v
// flips the last byte of its header's KES signature by v, which changes the
// block's hash and nothing that is decoded, and every rewritten block's
// previous hash is set to its parent's new hash. A fork replaces the blocks
// above a point with the next variant of the same blocks, as a real fork
// carries mostly the same transactions in other blocks; the chain stays
// linked, slots and block numbers stay real, and no transaction is on the
// final chain twice.
type chainGen struct {
	base     []nodesim.Block // the window's real blocks; base[0] is the parent of the first served block
	variant  []int           // the current variant of each position
	cur      []nodesim.Block // the current chain: base rewritten
	next     int             // the next variant number
	hdrStart []int           // offset of the header in each base block's CBOR
	hdrEnd   []int
	prevAt   []int // offset of the previous hash's 32 bytes in each base block's CBOR (-1: none)
}

// newChainGen prepares base, whose blocks are real and linked.
func newChainGen(base []nodesim.Block) (*chainGen, error) {
	g := &chainGen{base: base, variant: make([]int, len(base)), next: 1}
	for i, b := range base {
		start, end, err := headerSpan(b.CBOR)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", b.Point, err)
		}
		g.hdrStart, g.hdrEnd = append(g.hdrStart, start), append(g.hdrEnd, end)
		at := -1
		if i > 0 {
			prev := append([]byte{0x58, 0x20}, base[i-1].Point.Hash...)
			j := bytes.Index(b.CBOR[start:end], prev)
			if j < 0 {
				return nil, fmt.Errorf("block %s: its header does not hold its parent's hash %x", b.Point, base[i-1].Point.Hash)
			}
			at = start + j + 2
		}
		g.prevAt = append(g.prevAt, at)
	}
	g.cur = make([]nodesim.Block, len(base))
	copy(g.cur, base)
	return g, nil
}

// headerSpan returns where a Shelley-family block's header ([header body,
// signature], the block's first element) lies in its CBOR.
func headerSpan(raw []byte) (int, int, error) {
	var parts []cbor.RawMessage
	if err := cbor.Unmarshal(raw, &parts); err != nil {
		return 0, 0, err
	}
	if len(parts) == 0 {
		return 0, 0, fmt.Errorf("empty block")
	}
	start := bytes.Index(raw, parts[0])
	if start < 0 {
		return 0, 0, fmt.Errorf("header not found")
	}
	return start, start + len(parts[0]), nil
}

// fork gives every position from p on the next variant and relinks the
// chain from there. It returns the new blocks from p on.
func (g *chainGen) fork(p int) []nodesim.Block {
	v := g.next
	g.next++
	for i := p; i < len(g.base); i++ {
		g.variant[i] = v
	}
	g.relink(p)
	return g.cur[p:]
}

// corrupt replaces position p's base block with bad (same point, a header
// that does not decode) and relinks.
func (g *chainGen) corrupt(p int, bad nodesim.Block) {
	g.base[p] = bad
	g.relink(p)
}

func (g *chainGen) relink(p int) {
	for i := p; i < len(g.base); i++ {
		b := g.base[i]
		if g.variant[i] == 0 && (i == 0 || bytes.Equal(g.cur[i-1].Point.Hash, g.base[i-1].Point.Hash)) {
			g.cur[i] = b
			continue
		}
		out := bytes.Clone(b.CBOR)
		if g.variant[i] != 0 {
			out[g.hdrEnd[i]-1] ^= byte(g.variant[i]%255 + 1)
		}
		if at := g.prevAt[i]; at >= 0 {
			copy(out[at:at+32], g.cur[i-1].Point.Hash)
		}
		h := blake2b.Sum256(out[g.hdrStart[i]:g.hdrEnd[i]])
		g.cur[i] = nodesim.Block{Type: b.Type, CBOR: out, Point: chain.Point{Slot: b.Point.Slot, Hash: h[:]}, BlockNo: b.BlockNo}
	}
}
