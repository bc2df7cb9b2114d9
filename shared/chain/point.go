package chain

import "fmt"

// Point identifies a block on the chain by slot and hash. The zero Point is the origin.
type Point struct {
	Slot uint64
	Hash []byte
}

func (p Point) String() string {
	if p.Hash == nil {
		return "origin"
	}
	return fmt.Sprintf("%d/%x", p.Slot, p.Hash)
}

// Quarantined is a block that did not decode, kept raw with what its header told.
type Quarantined struct {
	Err  *DecodeError
	CBOR []byte
}
