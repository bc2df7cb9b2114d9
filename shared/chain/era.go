package chain

import (
	"fmt"

	"github.com/blinklabs-io/gouroboros/ledger/allegra"
	"github.com/blinklabs-io/gouroboros/ledger/alonzo"
	"github.com/blinklabs-io/gouroboros/ledger/babbage"
	"github.com/blinklabs-io/gouroboros/ledger/byron"
	"github.com/blinklabs-io/gouroboros/ledger/conway"
	"github.com/blinklabs-io/gouroboros/ledger/mary"
	"github.com/blinklabs-io/gouroboros/ledger/shelley"
)

// Era is a ledger era, by name. gouroboros numbers eras two ways that are
// easy to confuse: block types, the chain-sync era tag (0 Byron EBB, 1 Byron,
// 2 Shelley, ... 7 Conway), and transaction types (0 Byron, 1 Shelley, ...
// 6 Conway). Comparing one number with the other put every Shelley-era fee to
// NULL. Every comparison of eras in this package goes through Era: map a
// number into it once, with EraOfBlockType or eraOfTxType, and compare names.
type Era uint8

// The eras Nectar decodes, in chain order: a later era compares greater.
const (
	EraByron Era = iota
	EraShelley
	EraAllegra
	EraMary
	EraAlonzo
	EraBabbage
	EraConway
)

var eraNames = [...]string{
	EraByron: "Byron", EraShelley: "Shelley", EraAllegra: "Allegra", EraMary: "Mary",
	EraAlonzo: "Alonzo", EraBabbage: "Babbage", EraConway: "Conway",
}

// String returns the era's name as block.era stores it.
func (e Era) String() string {
	if int(e) < len(eraNames) {
		return eraNames[e]
	}
	return fmt.Sprintf("Era(%d)", uint8(e))
}

// EraOfBlockType maps a chain-sync block type to its era; ok is false for a
// block type Nectar does not decode.
func EraOfBlockType(blockType uint) (e Era, ok bool) {
	switch blockType {
	case BlockTypeByronEBB, BlockTypeByronMain:
		return EraByron, true
	case BlockTypeShelley:
		return EraShelley, true
	case BlockTypeAllegra:
		return EraAllegra, true
	case BlockTypeMary:
		return EraMary, true
	case BlockTypeAlonzo:
		return EraAlonzo, true
	case BlockTypeBabbage:
		return EraBabbage, true
	case BlockTypeConway:
		return EraConway, true
	}
	return 0, false
}

// eraOfTxType maps a gouroboros transaction type (common.Transaction.Type(),
// the ledger/<era>.TxType<Era> constants, a numbering of its own that must
// never be compared with block types) to its era; ok is false for a type
// Nectar does not decode.
func eraOfTxType(txType int) (e Era, ok bool) {
	switch txType {
	case byron.TxTypeByron:
		return EraByron, true
	case shelley.TxTypeShelley:
		return EraShelley, true
	case allegra.TxTypeAllegra:
		return EraAllegra, true
	case mary.TxTypeMary:
		return EraMary, true
	case alonzo.TxTypeAlonzo:
		return EraAlonzo, true
	case babbage.TxTypeBabbage:
		return EraBabbage, true
	case conway.TxTypeConway:
		return EraConway, true
	}
	return 0, false
}

// HasFeeField reports whether the era's transactions state their fee (every
// era after Byron).
func (e Era) HasFeeField() bool { return e >= EraShelley }

// HasPhaseTwo reports whether the era's transactions can fail phase-2
// validation and carry collateral (Alonzo on).
func (e Era) HasPhaseTwo() bool { return e >= EraAlonzo }
