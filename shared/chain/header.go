package chain

import (
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/ledger/allegra"
	"github.com/blinklabs-io/gouroboros/ledger/alonzo"
	"github.com/blinklabs-io/gouroboros/ledger/babbage"
	"github.com/blinklabs-io/gouroboros/ledger/byron"
	"github.com/blinklabs-io/gouroboros/ledger/conway"
	"github.com/blinklabs-io/gouroboros/ledger/mary"
	"github.com/blinklabs-io/gouroboros/ledger/shelley"
)

// protocolVersion reads the protocol version a header announces: a Byron
// main block's block version, 0.0 for a Byron EBB (which has none; db-sync
// stores 0 and 0), the header's protocol version from Shelley on. ok is false
// for an unknown header.
func protocolVersion(h ledger.BlockHeader) (major, minor uint64, ok bool) {
	var sh *shelley.ShelleyBlockHeader
	var bh *babbage.BabbageBlockHeader
	switch hh := h.(type) {
	case *byron.ByronEpochBoundaryBlockHeader:
		return 0, 0, true
	case *byron.ByronMainBlockHeader:
		v := hh.ExtraData.BlockVersion
		return uint64(v.Major), uint64(v.Minor), true
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
