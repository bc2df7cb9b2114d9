package chain

import (
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/ledger/allegra"
	"github.com/blinklabs-io/gouroboros/ledger/alonzo"
	"github.com/blinklabs-io/gouroboros/ledger/babbage"
	"github.com/blinklabs-io/gouroboros/ledger/conway"
	"github.com/blinklabs-io/gouroboros/ledger/mary"
	"github.com/blinklabs-io/gouroboros/ledger/shelley"
)

// protocolVersion reads the protocol version a Shelley-or-later header
// announces; ok is false for Byron headers.
func protocolVersion(h ledger.BlockHeader) (major, minor uint64, ok bool) {
	var sh *shelley.ShelleyBlockHeader
	var bh *babbage.BabbageBlockHeader
	switch hh := h.(type) {
	case *shelley.ShelleyBlockHeader:
		sh = hh
	case *allegra.AllegraBlockHeader:
		sh = &hh.ShelleyBlockHeader
	case *mary.MaryBlockHeader:
		sh = &hh.ShelleyBlockHeader
	case *alonzo.AlonzoBlockHeader:
		sh = &hh.ShelleyBlockHeader
	case *babbage.BabbageBlockHeader:
		bh = hh
	case *conway.ConwayBlockHeader:
		bh = &hh.BabbageBlockHeader
	}
	switch {
	case sh != nil:
		return sh.Body.ProtoMajorVersion, sh.Body.ProtoMinorVersion, true
	case bh != nil:
		return bh.Body.ProtoVersion.Major, bh.Body.ProtoVersion.Minor, true
	}
	return 0, 0, false
}
