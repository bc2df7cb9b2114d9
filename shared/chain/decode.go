package chain

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strconv"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/ledger/byron"
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

// Decoded is one block turned into rows.
type Decoded struct {
	Hash      []byte
	PrevHash  []byte // nil for the first block of a chain
	Slot      uint64
	BlockNo   uint64 // a Byron EBB repeats the number of the block before it
	BlockType uint
	Era       Era
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
	era, ok := EraOfBlockType(blockType)
	if !ok {
		return nil, NewDecodeError(blockType, raw, fmt.Errorf("unsupported block type %d", blockType))
	}
	blk, err := ledger.NewBlockFromCbor(blockType, raw)
	if err != nil {
		return nil, NewDecodeError(blockType, raw, err)
	}
	d, err = mapBlock(net, blockType, era, raw, blk)
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
	era        Era
	slot       uint64
	slotVal    any // slot, boxed once for all the block's rows (slotV)
	blockHash  []byte
	protoMajor uint64
	rows       *Rows
	// per-block caches, allocated on first use: shared rows are written once
	// per block and bech32 views computed once (they dominate the mapping's cost).
	assets   map[string]any // by policy and name: the name's row value
	assetKey []byte
	// assetEntries is outputValue's scratch, reused output after output.
	assetEntries []assetEntry
	slab         []any // see add
	datums       map[[32]byte]struct{}
	scripts      map[common.ScriptHash]struct{}
	stakeViews   map[string]string
	addrs        map[string]*addressValues // by the bytes outputs carry
	fpHash       hash.Hash                 // Blake2b-160 of CIP-14 fingerprints
	fpSum        []byte
}

// txCtx carries what every row of one transaction needs.
type txCtx struct {
	*blockCtx
	tx      common.Transaction
	body    common.TransactionBody
	hash    []byte
	hashVal any // hash, boxed once for all the transaction's rows (hashV)
	// gouroboros builds these on every call (the CBOR from its parts, the
	// witness set copied into an interface): read once per transaction.
	txCbor       []byte
	witnessSet   common.TransactionWitnessSet
	witnessesSet bool
	sortedInputs []common.TransactionInput // the ledger's order, for spend redeemers
}

// cbor is the transaction's CBOR, as tx.Cbor gives it.
func (c *txCtx) cbor() []byte {
	if c.txCbor == nil {
		c.txCbor = c.tx.Cbor()
	}
	return c.txCbor
}

// witnessesOf is the transaction's witness set, as tx.Witnesses gives it.
func (c *txCtx) witnessesOf() common.TransactionWitnessSet {
	if !c.witnessesSet {
		c.witnessSet, c.witnessesSet = c.tx.Witnesses(), true
	}
	return c.witnessSet
}

// Rows are carved from slabs of values: the first of a block holds
// minRowSlab values, each next one twice as many as the last, up to
// maxRowSlab.
const (
	minRowSlab = 256
	maxRowSlab = 4096
)

// add appends a row to table t, as Rows.Add, carved from the block's slab
// (one allocation for many rows) with room for the computed columns and no
// more: an append past them copies the row.
func (b *blockCtx) add(t TableID, values ...any) {
	n := max(len(values), len(Tables[t].Columns))
	if len(b.slab)+n > cap(b.slab) {
		b.slab = make([]any, 0, max(min(2*cap(b.slab), maxRowSlab), minRowSlab, n))
	}
	i := len(b.slab)
	row := b.slab[i : i+len(values) : i+n]
	copy(row, values)
	b.slab = b.slab[:i+n]
	b.rows[t] = append(b.rows[t], row)
}

// slotV is the block's slot as a row value. Every row holds it: boxed once,
// not once per row.
func (b *blockCtx) slotV() any {
	if b.slotVal == nil {
		b.slotVal = b.slot
	}
	return b.slotVal
}

// hashV is the transaction's hash as a row value, boxed once.
func (c *txCtx) hashV() any {
	if c.hashVal == nil {
		c.hashVal = c.hash
	}
	return c.hashVal
}

func mapBlock(net Network, blockType uint, era Era, raw []byte, blk ledger.Block) (*Decoded, error) {
	hdr := blk.Header()
	hash := blk.Hash()
	d := &Decoded{
		Hash:      hash.Bytes(),
		Slot:      blk.SlotNumber(),
		BlockNo:   blk.BlockNumber(),
		BlockType: blockType,
		Era:       era,
	}
	if prev := blk.PrevHash(); prev != (common.Blake2b256{}) {
		d.PrevHash = prev.Bytes()
	}
	ebb := blockType == BlockTypeByronEBB
	major, minor, hasProto := protocolVersion(hdr)
	b := &blockCtx{net: net, era: era, slot: d.Slot, blockHash: d.Hash, protoMajor: major, rows: &d.Rows}

	txs := blk.Transactions()
	d.TxCount = len(txs)
	// db-sync's block columns: an EBB has no block number and no slot within
	// its epoch (its slot_no stays: rollbacks and order need every row's slot).
	var blockNo, epoch, epochSlot, blockTime any
	if !ebb {
		blockNo = d.BlockNo
	}
	if e, es, ok := net.Epoch(d.Slot); ok {
		epoch = e
		if !ebb {
			epochSlot = es
		}
	}
	if t, ok := net.SlotTime(d.Slot); ok {
		blockTime = t.UTC().Format("2006-01-02 15:04:05")
	}
	var protoMajor, protoMinor, slotLeader any
	if hasProto {
		protoMajor, protoMinor = major, minor
	}
	// db-sync's block.size: the whole block's length for Byron, the body size
	// the header declares (and the ledger checks) from Shelley on.
	size := uint64(len(raw))
	if era >= EraShelley {
		size = hdr.BlockBodySize()
		vkey := hdr.IssuerVkey()
		issuer := vkey.Hash()
		slotLeader = issuer.Bytes()
		// db-sync (queryPoolKeyOrInsert in Universal/Insert/Block.hs) gives
		// every block issuer a pool_hash row and a slot_leader "Pool-<first
		// 8 bytes in hex>", genesis delegates of the early Shelley era too.
		b.add(PoolHash, issuer.Bytes(), bech32Encode("pool", issuer[:]), d.Slot)
		b.add(SlotLeader, issuer.Bytes(), issuer.Bytes(), "Pool-"+hex.EncodeToString(issuer[:8]), d.Slot)
	} else if ebb {
		b.add(SlotLeader, EBBSlotLeader, nil, "Epoch boundary slot leader", d.Slot)
	}
	b.add(Block, d.Hash, d.Slot, blockNo, epoch, epochSlot, blockTime, era.String(), uint64(blockType),
		nullBytes(d.PrevHash), size, uint64(len(txs)), slotLeader, protoMajor, protoMinor)

	for i, tx := range txs {
		c := &txCtx{blockCtx: b, tx: tx, body: tx, hash: txHash(tx)}
		if err := c.mapTx(uint64(i)); err != nil {
			return nil, fmt.Errorf("tx %d (%x): %w", i, c.hash, err)
		}
	}
	if err := d.assignIDs(); err != nil { // drops repeated rows too
		return nil, err
	}
	return d, nil
}

func (c *txCtx) mapTx(blockIndex uint64) error {
	if era, ok := eraOfTxType(c.tx.Type()); !ok || era != c.era {
		return fmt.Errorf("transaction of type %d in a %s block", c.tx.Type(), c.era)
	}
	if !c.tx.IsValid() {
		return c.mapInvalidTx(blockIndex)
	}
	outputs := c.body.Outputs()
	outSum := c.outputSum(outputs)
	// A Byron transaction states no fee and pays no deposit; the tx_fee view
	// computes its fee from the outputs it spends.
	var fee, deposit any = nil, "0"
	if c.era.HasFeeField() {
		if f := c.body.Fee(); f != nil {
			fee = decimal(f)
		}
		deposit = c.deposit()
	}
	invalidBefore, invalidHereafter := c.validityInterval()
	donation := "0"
	if d := c.body.Donation(); d != nil {
		donation = d.String()
	}
	c.add(Tx, c.hashV(), c.blockHash, c.slotV(), blockIndex, outSum, fee, deposit,
		c.size(), invalidBefore, invalidHereafter, true, c.scriptSize(), c.totalCollateral(), donation)

	c.inputs(TxIn, c.body.Inputs())
	c.inputs(CollateralTxIn, c.body.Collateral())
	c.inputs(ReferenceTxIn, c.body.ReferenceInputs())
	for i, o := range outputs {
		if err := c.output(TxOut, uint64(i), o); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}
	if cr := c.body.CollateralReturn(); cr != nil {
		// Declared, not created (the transaction is valid); it takes the
		// index after the body's outputs, as it would if it were created.
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

// outputSum is the decimal text of the outputs' coins, summed from their
// CBOR (outputCoin) where every one reads and the sum fits in 64 bits.
func (c *txCtx) outputSum(outputs []common.TransactionOutput) any {
	var sum uint64
	for _, o := range outputs {
		coin, ok := outputCoin(o.Cbor())
		if !ok || sum+coin < sum {
			total := new(big.Int)
			for _, o := range outputs {
				if a := o.Amount(); a != nil {
					total.Add(total, a)
				}
			}
			return decimal(total)
		}
		sum += coin
	}
	return decimalValU(sum)
}

// mapInvalidTx adds a phase-2-invalid transaction as the ledger applies it
// and as cardano-db-sync stores it (Generic/Tx/Alonzo.hs, Babbage.hs,
// Conway.hs; Universal/Insert/Tx.hs): it spends its collateral inputs (tx_in),
// creates only its collateral return (tx_out, with its assets, inline datum
// and reference script, at index = the number of body outputs), pays the
// collateral as fee (total_collateral when the body declares it; otherwise
// NULL, and the tx_fee view computes the collateral inputs' value minus the
// return), and has no other effect: no body inputs or outputs, no
// collateral_tx_in/out or reference_tx_in rows (db-sync writes those for
// valid transactions only), no mint, metadata, certificates, withdrawals,
// redeemers, witness datums or scripts, required signers, parameter
// proposals, votes or proposals. Nothing it only declared is kept.
func (c *txCtx) mapInvalidTx(blockIndex uint64) error {
	ret := c.body.CollateralReturn()
	outSum := "0"
	if ret != nil {
		if a := ret.Amount(); a != nil {
			outSum = a.String()
		}
	}
	totalCollateral := c.totalCollateral()
	invalidBefore, invalidHereafter := c.validityInterval()
	// The fee is the collateral taken; deposits and the donation never happen.
	c.add(Tx, c.hashV(), c.blockHash, c.slotV(), blockIndex, outSum, totalCollateral, "0",
		c.size(), invalidBefore, invalidHereafter, false, c.scriptSize(), totalCollateral, "0")
	c.inputs(TxIn, c.body.Collateral())
	if ret != nil {
		if err := c.output(TxOut, uint64(len(c.body.Outputs())), ret); err != nil {
			return fmt.Errorf("collateral return: %w", err)
		}
	}
	return nil
}

// txHash is a transaction's id: the Blake2b-256 of its body's bytes as they
// are on chain, which later transactions' inputs name. For Byron that is
// gouroboros's WireId: its Hash re-encodes the body "canonically", which
// gives a different hash for real mainnet transactions (chunk 00000: none of
// the 38 inputs of its 33 transactions names such a hash; 25 name the hash of
// the bytes, the others spend the genesis distribution).
func txHash(tx common.Transaction) []byte {
	if bt, ok := tx.(*byron.ByronTransaction); ok {
		h := bt.WireId()
		return h.Bytes()
	}
	h := tx.Hash()
	return h.Bytes()
}

// totalCollateral is the body's total_collateral field, or nil when absent.
func (c *txCtx) totalCollateral() any {
	if common.TransactionTotalCollateralPresent(c.body) {
		if tc := c.body.TotalCollateral(); tc != nil {
			return tc.String()
		}
	}
	return nil
}

// validityInterval returns invalid_before and invalid_hereafter, nil when the
// body leaves a bound out (an explicit lower bound of 0 is 0, as in db-sync).
func (c *txCtx) validityInterval() (before, hereafter any) {
	if v := c.body.ValidityIntervalStart(); v != 0 || (c.era >= EraAllegra && txBodyHasKey(c.cbor(), 8)) {
		before = v
	}
	if v, ok := common.TransactionValidityIntervalUpperBound(c.body); ok {
		hereafter = v
	}
	return before, hereafter
}

// size is db-sync's tx.size: the ledger's size of the whole transaction
// (body, witnesses, validity flag, auxiliary data) from Shelley on; for Byron
// the size of the transaction without its witnesses (db-sync serialises taTx).
func (c *txCtx) size() uint64 {
	if bt, ok := c.tx.(*byron.ByronTransaction); ok {
		return uint64(len(bt.Body.Cbor()))
	}
	if c.era >= EraAlonzo {
		// The ledger's sizeTxF (toCBORForSizeComputation) leaves out the
		// is_valid flag, one byte of the [body, witnesses, is_valid, aux] array.
		return uint64(len(c.cbor())) - 1
	}
	return uint64(len(c.cbor()))
}

// txBodyHasKey says whether the body (the first element of a transaction's
// CBOR array) holds key k: where gouroboros cannot tell an absent field from
// its zero value (db-sync stores an explicit validity start of 0 as 0). It
// reads the body's keys only; a body that is not a map of distinct small
// unsigned keys is decoded in full.
func txBodyHasKey(tx []byte, k uint64) bool {
	if major, n, indefinite, i, ok := cborHead(tx, 0); ok && major == 4 && (n > 0 || indefinite && i < len(tx) && tx[i] != 0xff) {
		if has, decided := cborMapHasUintKey(tx, i, k); decided {
			return has
		}
	}
	has, _ := txBodyHasKeyDecoded(tx, k)
	return has
}

// txBodyHasKeyDecoded is txBodyHasKey by decoding the transaction and its body.
func txBodyHasKeyDecoded(tx []byte, k uint64) (bool, error) {
	var parts []cbor.RawMessage
	if _, err := cbor.Decode(tx, &parts); err != nil {
		return false, err
	}
	if len(parts) == 0 {
		return false, errors.New("empty transaction array")
	}
	var m map[uint64]cbor.RawMessage
	if _, err := cbor.Decode(parts[0], &m); err != nil {
		return false, err
	}
	_, ok := m[k]
	return ok, nil
}

// deposit is db-sync's tx.deposit, deposits paid minus refunds received, when
// the transaction itself states every amount (Conway's certificates and
// proposals do). A Shelley-style stake registration (certificate 0) pays the
// protocol's key deposit, a deregistration (1) gets back what its
// registration paid, a pool registration (3) pays the pool deposit only when
// the pool is new: those need protocol parameters or ledger state, so the row
// holds NULL and the tx_deposit view computes the deposit from the balance
// (inputs + withdrawals - outputs - fee - donation) once the spent outputs
// are indexed.
func (c *txCtx) deposit() any {
	total := new(big.Int)
	add := func(n int64) { total.Add(total, big.NewInt(n)) }
	for _, cert := range c.body.Certificates() {
		switch x := cert.(type) {
		case *common.StakeRegistrationCertificate, *common.StakeDeregistrationCertificate, *common.PoolRegistrationCertificate:
			return nil
		case *common.RegistrationCertificate:
			add(x.Amount)
		case *common.DeregistrationCertificate:
			add(-x.Amount)
		case *common.StakeRegistrationDelegationCertificate:
			add(x.Amount)
		case *common.VoteRegistrationDelegationCertificate:
			add(x.Amount)
		case *common.StakeVoteRegistrationDelegationCertificate:
			add(x.Amount)
		case *common.RegistrationDrepCertificate:
			add(x.Amount)
		case *common.DeregistrationDrepCertificate:
			add(-x.Amount)
		}
	}
	for _, p := range c.body.ProposalProcedures() {
		total.Add(total, new(big.Int).SetUint64(p.Deposit()))
	}
	return total.String()
}

func (c *txCtx) inputs(t TableID, ins []common.TransactionInput) {
	for _, in := range ins {
		id := in.Id()
		c.add(t, c.hashV(), id.Bytes(), uint64(in.Index()), c.slotV())
	}
}

// decimal is x's decimal text, as x.String() gives it, without big.Int's
// formatting where the value fits in an int64.
func decimal(x *big.Int) string {
	if x != nil && x.IsInt64() {
		return strconv.FormatInt(x.Int64(), 10)
	}
	return x.String()
}

// smallDecimals holds the row values of the decimal texts of 0 to 999,
// boxed once: most asset quantities (an NFT's 1) and many amounts.
var smallDecimals = func() (v [1000]any) {
	for i := range v {
		v[i] = strconv.Itoa(i)
	}
	return v
}()

// decimalValU is the decimal text of u as a row value.
func decimalValU(u uint64) any {
	if u < uint64(len(smallDecimals)) {
		return smallDecimals[u]
	}
	return strconv.FormatUint(u, 10)
}

// decimalVal is decimal(x) as a row value.
func decimalVal(x *big.Int) any {
	if x != nil && x.IsUint64() {
		if u := x.Uint64(); u < uint64(len(smallDecimals)) {
			return smallDecimals[u]
		}
	}
	return decimal(x)
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
