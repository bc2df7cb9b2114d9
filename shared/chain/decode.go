package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// Block types as chain-sync reports them (the era tag of the hard-fork combinator).
const (
	BlockTypeByronEBB  uint = 0
	BlockTypeByronMain uint = 1
	BlockTypeShelley   uint = 2
	BlockTypeAllegra   uint = 3
	BlockTypeMary      uint = 4
	BlockTypeAlonzo    uint = 5
	BlockTypeBabbage   uint = 6
	BlockTypeConway    uint = 7
)

// MaxBlockType is the newest block type Nectar decodes.
const MaxBlockType = BlockTypeConway

var eraNames = [...]string{"Byron", "Byron", "Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway"}

// Decoded is one block turned into rows.
type Decoded struct {
	Hash      []byte
	PrevHash  []byte // nil for the first block of a chain
	Slot      uint64
	BlockNo   uint64
	BlockType uint
	TxCount   int
	Rows      Rows
}

// DecodeBlock decodes a block of the given chain-sync block type (never
// guessed from the bytes) into rows for every chain table. The body hash is
// verified. Any failure, including a panic inside the ledger decoder, comes
// back as a *DecodeError carrying what could be read from the header.
func DecodeBlock(net Network, blockType uint, raw []byte) (d *Decoded, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, NewDecodeError(blockType, raw, fmt.Errorf("decoder panic: %v", r))
		}
	}()
	if blockType > MaxBlockType {
		return nil, NewDecodeError(blockType, raw, fmt.Errorf("unsupported block type %d", blockType))
	}
	blk, err := ledger.NewBlockFromCbor(blockType, raw)
	if err != nil {
		return nil, NewDecodeError(blockType, raw, err)
	}
	d, err = mapBlock(net, blockType, raw, blk)
	if err != nil {
		return nil, NewDecodeError(blockType, raw, err)
	}
	return d, nil
}

// DecodeError is a block that could not be decoded. Hash, Slot and PrevHash
// come from the header when it decodes; otherwise Hash is the Blake2b-256 of
// the whole block so that the block still has a stable identity.
type DecodeError struct {
	BlockType     uint
	Hash          []byte
	PrevHash      []byte
	Slot          uint64
	HeaderDecoded bool
	Err           error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode block type %d at slot %d (%x): %v", e.BlockType, e.Slot, e.Hash, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// NewDecodeError wraps cause with what the block's header tells, if it decodes.
func NewDecodeError(blockType uint, raw []byte, cause error) *DecodeError {
	e := &DecodeError{BlockType: blockType, Err: cause}
	h := common.Blake2b256Hash(raw)
	e.Hash = h.Bytes()
	if h, err := ReadHeader(blockType, raw); err == nil {
		e.Hash, e.Slot, e.PrevHash, e.HeaderDecoded = h.Point.Hash, h.Point.Slot, h.PrevHash, true
	}
	return e
}

// Header is what a block's header says about its place in the chain.
type Header struct {
	Point    Point
	PrevHash []byte // nil for the first block of a chain
	BlockNo  uint64
}

// ReadHeader decodes only the header of a block: cheap, for the follower,
// which needs points and not rows.
func ReadHeader(blockType uint, raw []byte) (h Header, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("header decoder panic: %v", r)
		}
	}()
	var parts []cbor.RawMessage
	if _, err := cbor.Decode(raw, &parts); err != nil {
		return h, fmt.Errorf("block is not a CBOR array: %w", err)
	}
	if len(parts) == 0 {
		return h, errors.New("block is an empty array")
	}
	hdr, err := ledger.NewBlockHeaderFromCbor(blockType, parts[0])
	if err != nil {
		return h, fmt.Errorf("decode header: %w", err)
	}
	if hdr == nil {
		return h, errors.New("block header missing")
	}
	hash := hdr.Hash()
	h.Point = Point{Slot: hdr.SlotNumber(), Hash: hash.Bytes()}
	if prev := hdr.PrevHash(); prev != (common.Blake2b256{}) {
		h.PrevHash = prev.Bytes()
	}
	h.BlockNo = hdr.BlockNumber()
	return h, nil
}

// blockCtx carries what every row of one block needs.
type blockCtx struct {
	net        Network
	slot       uint64
	blockHash  []byte
	protoMajor uint64
	rows       *Rows
	// per-block caches, allocated on first use: shared rows are written once
	// per block and bech32 views computed once (they dominate the mapping's cost).
	assets     map[string]struct{}
	stakeViews map[string]string
	addrViews  map[string]string
}

// txCtx carries what every row of one transaction needs.
type txCtx struct {
	*blockCtx
	tx   common.Transaction
	body common.TransactionBody
	hash []byte
}

func mapBlock(net Network, blockType uint, raw []byte, blk ledger.Block) (*Decoded, error) {
	hdr := blk.Header()
	hash := blk.Hash()
	d := &Decoded{
		Hash:      hash.Bytes(),
		Slot:      blk.SlotNumber(),
		BlockNo:   blk.BlockNumber(),
		BlockType: blockType,
	}
	if prev := blk.PrevHash(); prev != (common.Blake2b256{}) {
		d.PrevHash = prev.Bytes()
	}
	major, minor, hasProto := protocolVersion(hdr)
	b := &blockCtx{net: net, slot: d.Slot, blockHash: d.Hash, protoMajor: major, rows: &d.Rows}

	txs := blk.Transactions()
	d.TxCount = len(txs)
	var epoch, epochSlot, blockTime any
	if e, es, ok := net.Epoch(d.Slot); ok {
		epoch, epochSlot = e, es
	}
	if t, ok := net.SlotTime(d.Slot); ok {
		blockTime = t.UTC().Format("2006-01-02 15:04:05")
	}
	var protoMajor, protoMinor, slotLeader any
	if hasProto {
		protoMajor, protoMinor = major, minor
	}
	if blockType >= BlockTypeShelley {
		vkey := hdr.IssuerVkey()
		slotLeader = vkey.Hash().Bytes()
	}
	b.rows.Add(Block, d.Hash, d.Slot, d.BlockNo, epoch, epochSlot, blockTime, eraNames[blockType], uint64(blockType),
		nullBytes(d.PrevHash), uint64(len(raw)), uint64(len(txs)), slotLeader, protoMajor, protoMinor)

	for i, tx := range txs {
		th := tx.Hash()
		c := &txCtx{blockCtx: b, tx: tx, body: tx, hash: th.Bytes()}
		if err := c.mapTx(uint64(i)); err != nil {
			return nil, fmt.Errorf("tx %d (%x): %w", i, c.hash, err)
		}
	}
	d.Rows.Dedup()
	return d, nil
}

func (c *txCtx) mapTx(blockIndex uint64) error {
	outputs := c.body.Outputs()
	outSum := new(big.Int)
	for _, o := range outputs {
		if a := o.Amount(); a != nil {
			outSum.Add(outSum, a)
		}
	}
	var fee any
	if f := c.body.Fee(); f != nil && c.blockType() >= BlockTypeShelley {
		fee = f.String()
	}
	var invalidBefore, invalidHereafter any
	if v := c.body.ValidityIntervalStart(); v != 0 {
		invalidBefore = v
	}
	if v := c.body.TTL(); v != 0 {
		invalidHereafter = v
	}
	var totalCollateral any
	if common.TransactionTotalCollateralPresent(c.body) {
		if tc := c.body.TotalCollateral(); tc != nil {
			totalCollateral = tc.String()
		}
	}
	donation := "0"
	if d := c.body.Donation(); d != nil {
		donation = d.String()
	}
	scriptSize := c.scriptSize()
	c.rows.Add(Tx, c.hash, c.blockHash, c.slot, blockIndex, outSum.String(), fee,
		uint64(len(c.tx.Cbor())), invalidBefore, invalidHereafter, c.tx.IsValid(), scriptSize, totalCollateral, donation)

	c.inputs(TxIn, c.body.Inputs())
	c.inputs(CollateralTxIn, c.body.Collateral())
	c.inputs(ReferenceTxIn, c.body.ReferenceInputs())
	for i, o := range outputs {
		if err := c.output(TxOut, uint64(i), o); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}
	if cr := c.body.CollateralReturn(); cr != nil {
		// The collateral return takes the index after the body's outputs.
		if err := c.output(CollateralTxOut, uint64(len(outputs)), cr); err != nil {
			return fmt.Errorf("collateral return: %w", err)
		}
	}
	c.mint()
	for _, step := range []func() error{c.metadata, c.certificates, c.withdrawals, c.witnesses, c.paramProposals, c.governance} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (c *txCtx) blockType() uint {
	t := c.tx.Type()
	if t < 0 {
		return 0
	}
	return uint(t)
}

func (c *txCtx) inputs(t TableID, ins []common.TransactionInput) {
	for _, in := range ins {
		id := in.Id()
		c.rows.Add(t, c.hash, id.Bytes(), uint64(in.Index()), c.slot)
	}
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
