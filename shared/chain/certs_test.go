package chain

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
	"github.com/blinklabs-io/gouroboros/ledger/conway"
	"golang.org/x/crypto/blake2b"
)

// Test helpers of certs_test.go and gov_test.go are prefixed gc (they share
// the package with other engineers' tests).
//
// The expectations in these tests come from the blocks' bytes read with the
// small CBOR reader and bech32 encoder below, not from gouroboros: they check
// the mapping against the chain, not against itself.

// gcCertTables are the tables keyed by (tx_hash, cert_index) at columns 0 and 1.
var gcCertTables = []TableID{StakeRegistration, StakeDeregistration, Delegation, PoolUpdate, PoolOwner, PoolRelay,
	PoolMetadataRef, PoolRetire, Reserve, Treasury, PotTransfer, GenesisKeyDelegation, DrepRegistration,
	DelegationVote, CommitteeRegistration, CommitteeDeregistration}

// gcCertKeys returns the distinct (tx hash, cert index) pairs that have rows.
func gcCertKeys(rows *Rows) map[string]bool {
	keys := map[string]bool{}
	for _, t := range gcCertTables {
		for _, r := range rows[t] {
			keys[fmt.Sprintf("%x/%d", r[0], r[1])] = true
		}
	}
	return keys
}

func TestCertificatesMatchIndex(t *testing.T) {
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got := gcCertKeys(&d.Rows)
			if len(got) != fb.Counts["certs"] {
				t.Errorf("certificates with rows %d, index says %d", len(got), fb.Counts["certs"])
			}
			if fb.era(t) < EraShelley {
				return
			}
			want := map[string]bool{}
			for _, tx := range gcTxs(t, raw) {
				for i := range tx.body.get(4).list() {
					want[fmt.Sprintf("%x/%d", tx.hash, i)] = true
				}
			}
			if !gcSameKeys(got, want) {
				t.Errorf("certificate keys differ from the block's bytes: got %d, want %d", len(got), len(want))
			}
		})
	}
}

// TestCertificateRowsFromBytes checks every row of the certificate kinds with
// one row per table against values read from the raw certificate, over all
// fixture blocks.
func TestCertificateRowsFromBytes(t *testing.T) {
	checked := map[uint64]int{}
	for _, fb := range loadIndex(t) {
		if fb.era(t) < EraShelley {
			continue
		}
		raw := fb.read(t)
		d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
		if err != nil {
			t.Fatalf("%s: decode: %v", fb.File, err)
		}
		net := fb.network()
		for _, tx := range gcTxs(t, raw) {
			for i, cert := range tx.body.get(4).list() {
				kind, want := gcWantCertRows(t, net.NetworkID, tx.hash, uint64(i), d.Slot, cert)
				if want == nil {
					continue
				}
				checked[kind]++
				gcCheckRows(t, fmt.Sprintf("%s tx %x cert %d (kind %d)", fb.File, tx.hash[:4], i, kind), &d.Rows, want)
			}
		}
	}
	t.Logf("certificates checked by kind: %v", checked)
	for _, kind := range []uint64{0, 1, 2, 7, 9, 16, 18} {
		if checked[kind] == 0 {
			t.Errorf("no certificate of kind %d checked", kind)
		}
	}
}

func TestPoolRegistrationFromBytes(t *testing.T) {
	fb := gcFixture(t, "conway/mainnet_conway_slot133878129_a41a12462ea2.cbor")
	raw := fb.read(t)
	d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
	if err != nil {
		t.Fatal(err)
	}
	var tx gcTx
	var cert *gcItem
	var idx uint64
	for _, x := range gcTxs(t, raw) {
		for i, c := range x.body.get(4).list() {
			if c.at(0).uint() == 3 {
				tx, cert, idx = x, c, uint64(i)
			}
		}
	}
	if cert == nil {
		t.Fatal("no pool registration in the fixture")
	}
	operator := cert.at(1).bytes
	margin := cert.at(5)
	if margin.major != 6 || margin.val != 30 {
		t.Fatalf("margin is not tag 30: %+v", margin)
	}
	m := new(big.Rat).SetFrac(margin.tagged.at(0).int(), margin.tagged.at(1).int())
	rewardAcct := cert.at(6).bytes
	wantReward := gcBech32("stake", rewardAcct)
	if rewardAcct[0]&0x0f == 0 {
		wantReward = gcBech32("stake_test", rewardAcct)
	}
	want := map[TableID][][]any{
		PoolUpdate: {{tx.hash, idx, d.Slot, operator, cert.at(2).bytes, cert.at(3).int().String(),
			cert.at(4).int().String(), m.Num().String(), m.Denom().String(), wantReward}},
	}
	for _, owner := range cert.at(7).list() {
		// The owner's reward address on this chain (mainnet: header e1).
		ownerAddr := gcBech32("stake", append([]byte{0xe1}, owner.bytes...))
		want[PoolOwner] = append(want[PoolOwner], []any{tx.hash, idx, owner.bytes, d.Slot, ownerAddr})
	}
	for i, r := range cert.at(8).list() {
		row := []any{tx.hash, idx, uint64(i), d.Slot, nil, nil, nil, nil, nil}
		switch r.at(0).uint() {
		case 0:
			if !r.at(2).isNull() {
				row[4] = net.IP(r.at(2).bytes).String()
			}
			if !r.at(3).isNull() {
				row[5] = net.IP(r.at(3).bytes).String()
			}
		case 1:
			row[6] = r.at(2).text
		case 2:
			row[7] = r.at(1).text
		}
		if r.at(0).uint() != 2 && !r.at(1).isNull() {
			row[8] = r.at(1).uint()
		}
		want[PoolRelay] = append(want[PoolRelay], row)
	}
	if md := cert.at(9); !md.isNull() {
		want[PoolMetadataRef] = [][]any{{tx.hash, idx, d.Slot, operator, md.at(0).text, md.at(1).bytes}}
	}
	gcCheckRows(t, "pool registration", &d.Rows, want)

	// Spelled out for the reader: what this mainnet registration says.
	if got := d.Rows[PoolUpdate][0]; got[5] != "50000000000" || got[6] != "340000000" || got[7] != "1" || got[8] != "100" {
		t.Errorf("pool_update pledge/cost/margin = %v/%v/%v/%v", got[5], got[6], got[7], got[8])
	}
	if len(want[PoolRelay]) != 2 || d.Rows[PoolRelay][0][4] != "172.104.135.126" || d.Rows[PoolRelay][0][8] != uint64(6000) {
		t.Errorf("pool_relay rows %v", d.Rows[PoolRelay])
	}
	if !gcHasRow(&d.Rows, PoolHash, []any{operator, gcBech32("pool", operator), d.Slot}) {
		t.Errorf("no pool_hash row for %x", operator)
	}
	if !gcHasKey(&d.Rows, StakeAddress, wantReward) {
		t.Errorf("no stake_address row for the reward address %s", wantReward)
	}
}

func TestMIRFromBytes(t *testing.T) {
	fb := gcFixture(t, "shelley/mainnet_shelley_slot4563840_12c1f09d72c2.cbor")
	raw := fb.read(t)
	d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, tx := range gcTxs(t, raw) {
		for i, cert := range tx.body.get(4).list() {
			if cert.at(0).uint() != 6 {
				continue
			}
			found++
			mir := cert.at(1)
			table := map[uint64]TableID{0: Reserve, 1: Treasury}[mir.at(0).uint()]
			var want [][]any
			for k, cred := range mir.at(1).keys {
				addr := gcRewardAddr(1, cred)
				want = append(want, []any{tx.hash, uint64(i), gcBech32("stake", addr), d.Slot,
					mir.at(1).vals[k].int().String()})
			}
			if len(want) == 0 {
				t.Fatal("MIR fixture has no payments")
			}
			gcCheckRows(t, "mir", &d.Rows, map[TableID][][]any{table: want})
			t.Logf("MIR from pot %d pays %d stake addresses", mir.at(0).uint(), len(want))
		}
	}
	if found != 1 {
		t.Fatalf("found %d MIR certificates, want 1", found)
	}
	// The first payment, by hand: stake1u824ex5p... received 745.850988 ada from the reserves.
	if !gcHasRow(&d.Rows, Reserve, []any{d.Rows[Reserve][0][0], uint64(0),
		"stake1u824ex5p6kl9x97wahlaqv5gfz7h943cap9vscc43yukadsp5my8l", d.Slot, "745850988"}) {
		t.Errorf("reserve rows start %v", d.Rows[Reserve][0])
	}
}

// TestConwayCertificatesByHand pins a few Conway certificate rows of one
// mainnet block (TestCertificateRowsFromBytes derives such rows from the
// bytes; this shows them).
func TestConwayCertificatesByHand(t *testing.T) {
	fb := gcFixture(t, "conway/mainnet_conway_slot133691180_ebf2ae1741f3.cbor")
	d, err := DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
	if err != nil {
		t.Fatal(err)
	}
	tx := gcHex(t, "fc638f657b1c2fca83c7517d4d48d9217699549ac3989e81117c119bec78917a")
	drep := "drep1xt7mz4vps99ruacy5tpk6x620qta6ystxhjtx83tjr3n2mg8skf"
	drepRaw := gcHex(t, "32fdb15581814a3e7704a2c36d1b4a7817dd120b35e4b31e2b90e335")
	if gcBech32("drep", drepRaw) != drep {
		t.Fatal("pinned drep view and hash disagree")
	}
	gcCheckRows(t, "drep registration", &d.Rows, map[TableID][][]any{
		DrepRegistration: {{tx, uint64(0), d.Slot, drep, "500000000", nil, nil}},
		DelegationVote:   {{tx, uint64(1), d.Slot, "stake1u8vck7acev4033ayut3l6aghur2m7sw7r7ntdlghrv47uqgqxhdlh", drep}},
	})
	if !gcHasRow(&d.Rows, DrepHash, []any{DrepAlwaysAbstain, nil, false, d.Slot}) {
		t.Error("no drep_hash row for always-abstain")
	}
	if !gcHasRow(&d.Rows, DrepHash, []any{drep, drepRaw, false, d.Slot}) {
		t.Error("no drep_hash row for the registered DRep")
	}
}

// TestAllCertificateKinds feeds one certificate of every kind 0-18 (most are
// absent from the fixtures) through the mapping.
func TestAllCertificateKinds(t *testing.T) {
	h28 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 28) }
	h32 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	key := func(b byte) []any { return []any{0, h28(b)} }
	script := func(b byte) []any { return []any{1, h28(b)} }
	anchor := []any{"https://example.com/a.json", h32(0xaa)}
	port := uint64(3001)
	certs := [][]any{
		{0, key(1)},
		{1, script(2)},
		{2, key(3), h28(0x50)},
		{3, h28(0x51), h32(0x52), uint64(1_000_000), uint64(340_000_000), cbor.Tag{Number: 30, Content: []any{3, 200}},
			append([]byte{0xe1}, h28(4)...), cbor.Tag{Number: 258, Content: [][]byte{h28(5), h28(6)}},
			[]any{
				[]any{0, port, []byte{10, 0, 0, 1}, nil},
				[]any{0, nil, nil, wireIPv6("2001:db8::1")},
				[]any{1, port, "relay.example.com"},
				[]any{2, "_srv.example.com"},
			},
			[]any{"https://example.com/pool.json", h32(0x53)}},
		{4, h28(0x51), uint64(300)},
		{5, h28(7), h28(8), h32(9)},
		{6, nil}, // replaced below: a MIR map has array keys
		{6, []any{1, uint64(5_000_000)}},
		{7, key(10), uint64(2_000_000)},
		{8, key(10), uint64(2_000_000)},
		{9, key(11), []any{0, h28(0x60)}},
		{10, script(12), h28(0x50), []any{1, h28(0x61)}},
		{11, key(13), h28(0x50), uint64(2_000_000)},
		{12, key(14), []any{2}, uint64(2_000_000)},
		{13, key(15), h28(0x50), []any{3}, uint64(2_000_000)},
		{14, key(16), script(17)},
		{15, script(16), anchor},
		{15, key(18), nil},
		{16, key(0x60), uint64(500_000_000), anchor},
		{17, key(0x60), uint64(500_000_000)},
		{18, script(0x61), nil},
		{6, []any{1, uint64(0)}},
	}
	encoded := make([][]byte, len(certs))
	for i, c := range certs {
		b, err := cbor.Encode(c)
		if err != nil {
			t.Fatalf("encode cert %d: %v", i, err)
		}
		encoded[i] = b
	}
	// A MIR paying two credentials (one negative delta): map keys are arrays,
	// which the generic encoder cannot build, so write the bytes.
	mirMap := []byte{0x82, 0x06, 0x82, 0x00, 0xa2}
	mirMap = append(mirMap, gcCBOR(t, key(20))...)
	mirMap = append(mirMap, gcCBOR(t, int64(-7))...)
	mirMap = append(mirMap, gcCBOR(t, script(21))...)
	mirMap = append(mirMap, gcCBOR(t, uint64(1_000_000_000_000))...)
	encoded[6] = mirMap

	list := []byte{0x98, byte(len(encoded))}
	for _, b := range encoded {
		list = append(list, b...)
	}
	var wrappers []common.CertificateWrapper
	if _, err := cbor.Decode(list, &wrappers); err != nil {
		t.Fatalf("decode certificates: %v", err)
	}
	rows, c := gcTxCtx(Mainnet, &conway.ConwayTransactionBody{TxCertificates: wrappers})
	if err := c.certificates(); err != nil {
		t.Fatalf("certificates: %v", err)
	}
	rows.Dedup()
	parsed := gcParseAll(t, list)
	if len(parsed) != 1 || len(parsed[0].items) != len(encoded) {
		t.Fatal("reparse of the certificate list failed")
	}
	for i, cert := range parsed[0].items {
		kind, want := gcWantCertRows(t, 1, c.hash, uint64(i), c.slot, cert)
		if want == nil {
			continue
		}
		gcCheckRows(t, fmt.Sprintf("cert %d (kind %d)", i, kind), rows, want)
	}
	if got := len(gcCertKeys(rows)); got != len(encoded) {
		t.Errorf("certificates with rows %d, want %d", got, len(encoded))
	}

	// The kinds gcWantCertRows leaves to the reader, spelled out.
	stake := func(header byte, b byte) string { return gcBech32("stake", append([]byte{header}, h28(b)...)) }
	gcCheckRows(t, "literal", rows, map[TableID][][]any{
		PoolUpdate: {{c.hash, uint64(3), c.slot, h28(0x51), h32(0x52), "1000000", "340000000", "3", "200", stake(0xe1, 4)}},
		PoolOwner:  {{c.hash, uint64(3), h28(5), c.slot, stake(0xe1, 5)}, {c.hash, uint64(3), h28(6), c.slot, stake(0xe1, 6)}},
		PoolRelay: {
			{c.hash, uint64(3), uint64(0), c.slot, "10.0.0.1", nil, nil, nil, port},
			{c.hash, uint64(3), uint64(1), c.slot, nil, "2001:db8::1", nil, nil, nil},
			{c.hash, uint64(3), uint64(2), c.slot, nil, nil, "relay.example.com", nil, port},
			{c.hash, uint64(3), uint64(3), c.slot, nil, nil, nil, "_srv.example.com", nil},
		},
		PoolMetadataRef:      {{c.hash, uint64(3), c.slot, h28(0x51), "https://example.com/pool.json", h32(0x53)}},
		GenesisKeyDelegation: {{c.hash, uint64(5), c.slot, h28(7), h28(8), h32(9)}},
		Reserve: {
			{c.hash, uint64(6), stake(0xe1, 20), c.slot, "-7"},
			{c.hash, uint64(6), stake(0xf1, 21), c.slot, "1000000000000"},
		},
		PotTransfer: {
			{c.hash, uint64(7), c.slot, "5000000", "-5000000"},
			{c.hash, uint64(21), c.slot, "0", "0"},
		},
		CommitteeDeregistration: {
			{c.hash, uint64(16), c.slot, h28(16), true, "https://example.com/a.json", h32(0xaa)},
			{c.hash, uint64(17), c.slot, h28(18), false, nil, nil},
		},
	})
	for _, want := range [][]any{
		{"https://example.com/a.json", h32(0xaa), c.slot},
	} {
		if !gcHasRow(rows, VotingAnchor, want) {
			t.Errorf("no voting_anchor row %v", want)
		}
	}
	for _, view := range []string{DrepAlwaysAbstain, DrepAlwaysNoConfidence,
		gcBech32("drep", h28(0x60)), gcBech32("drep_script", h28(0x61))} {
		if !gcHasKey(rows, DrepHash, view) {
			t.Errorf("no drep_hash row %s", view)
		}
	}
}

func TestCertificateErrors(t *testing.T) {
	_, c := gcTxCtx(Mainnet, &conway.ConwayTransactionBody{})
	bad := []struct {
		name string
		cert common.Certificate
	}{
		{"nil delegation credential", &common.StakeDelegationCertificate{}},
		{"pool without margin", &common.PoolRegistrationCertificate{}},
		{"mir from an unknown pot", &common.MoveInstantaneousRewardsCertificate{Reward: common.MoveInstantaneousRewardsCertificateReward{Source: 7}}},
		{"relay of unknown type", &common.PoolRegistrationCertificate{Margin: cbor.Rat{Rat: big.NewRat(1, 2)}, Relays: []common.PoolRelay{{Type: 9}}}},
		{"nil certificate", nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.certificate(0, tc.cert); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestParamProposalsFromBytes(t *testing.T) {
	blocks := 0
	for _, fb := range loadIndex(t) {
		if e := fb.era(t); e < EraShelley || e >= EraConway {
			continue
		}
		raw := fb.read(t)
		d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
		if err != nil {
			t.Fatalf("%s: %v", fb.File, err)
		}
		var want int
		for _, tx := range gcTxs(t, raw) {
			upd := tx.body.get(6)
			if upd == nil {
				continue
			}
			epoch := upd.at(1).uint()
			for k, key := range upd.at(0).keys {
				want++
				row := gcFindRow(&d.Rows, ParamProposal, tx.hash, key.bytes)
				if row == nil {
					t.Errorf("%s: no param_proposal for key %x", fb.File, key.bytes)
					continue
				}
				if row[2] != d.Slot || row[3] != epoch {
					t.Errorf("%s: slot/epoch %v/%v, want %d/%d", fb.File, row[2], row[3], d.Slot, epoch)
				}
				var js map[string]any
				if err := json.Unmarshal([]byte(row[4].(string)), &js); err != nil {
					t.Errorf("%s: invalid json %q: %v", fb.File, row[4], err)
					continue
				}
				params := upd.at(0).vals[k]
				if len(js) != len(params.keys) {
					t.Errorf("%s: json has %d parameters, the update %d: %s", fb.File, len(js), len(params.keys), row[4])
				}
				if pv := params.get(14); pv != nil {
					got, _ := json.Marshal(js["protocol_version"])
					exp := fmt.Sprintf(`{"major":%d,"minor":%d}`, pv.at(0).uint(), pv.at(1).uint())
					if string(got) != exp {
						t.Errorf("%s: protocol_version %s, want %s", fb.File, got, exp)
					}
				}
			}
		}
		if got := len(d.Rows[ParamProposal]); got != want {
			t.Errorf("%s: %d param_proposal rows, want %d", fb.File, got, want)
		}
		if want > 0 {
			blocks++
			again, _ := DecodeBlock(fb.network(), fb.BlockType, raw)
			if !reflect.DeepEqual(again.Rows[ParamProposal], d.Rows[ParamProposal]) {
				t.Errorf("%s: param_proposal rows differ between two decodes", fb.File)
			}
		}
	}
	if blocks == 0 {
		t.Fatal("no fixture block with parameter update proposals")
	}
}

// gcWantCertRows computes, from the raw certificate, the rows of the kinds
// with one row per table (0-2, 4, 5, 7-18). It returns nil for the kinds
// the dedicated tests check (3 pool registration, 6 MIR).
func gcWantCertRows(tb testing.TB, netID uint8, txHash []byte, idx, slot uint64, cert *gcItem) (uint64, map[TableID][][]any) {
	tb.Helper()
	kind := cert.at(0).uint()
	stake := func(i int) string {
		addr := gcRewardAddr(netID, cert.at(i))
		if netID == 1 {
			return gcBech32("stake", addr)
		}
		return gcBech32("stake_test", addr)
	}
	amount := func(i int) string { return cert.at(i).int().String() }
	w := map[TableID][][]any{}
	add := func(t TableID, vals ...any) {
		w[t] = append(w[t], append([]any{txHash, idx, slot}, vals...))
	}
	anchorURL := func(i int) (any, any) {
		if a := cert.at(i); a != nil && !a.isNull() {
			return a.at(0).text, a.at(1).bytes
		}
		return nil, nil
	}
	switch kind {
	case 0:
		add(StakeRegistration, stake(1), nil)
	case 1:
		add(StakeDeregistration, stake(1), nil)
	case 2:
		add(Delegation, stake(1), cert.at(2).bytes)
	case 4:
		add(PoolRetire, cert.at(1).bytes, cert.at(2).uint())
	case 5:
		add(GenesisKeyDelegation, cert.at(1).bytes, cert.at(2).bytes, cert.at(3).bytes)
	case 7:
		add(StakeRegistration, stake(1), amount(2))
	case 8:
		add(StakeDeregistration, stake(1), amount(2))
	case 9:
		add(DelegationVote, stake(1), gcDrepView(cert.at(2)))
	case 10:
		add(Delegation, stake(1), cert.at(2).bytes)
		add(DelegationVote, stake(1), gcDrepView(cert.at(3)))
	case 11:
		add(StakeRegistration, stake(1), amount(3))
		add(Delegation, stake(1), cert.at(2).bytes)
	case 12:
		add(StakeRegistration, stake(1), amount(3))
		add(DelegationVote, stake(1), gcDrepView(cert.at(2)))
	case 13:
		add(StakeRegistration, stake(1), amount(4))
		add(Delegation, stake(1), cert.at(2).bytes)
		add(DelegationVote, stake(1), gcDrepView(cert.at(3)))
	case 14:
		add(CommitteeRegistration, cert.at(1).at(1).bytes, cert.at(1).at(0).uint() == 1,
			cert.at(2).at(1).bytes, cert.at(2).at(0).uint() == 1)
	case 15:
		url, hash := anchorURL(2)
		add(CommitteeDeregistration, cert.at(1).at(1).bytes, cert.at(1).at(0).uint() == 1, url, hash)
	case 16:
		url, hash := anchorURL(3)
		add(DrepRegistration, gcDrepViewOfCred(cert.at(1)), amount(2), url, hash)
	case 17:
		add(DrepRegistration, gcDrepViewOfCred(cert.at(1)), "-"+amount(2), nil, nil)
	case 18:
		url, hash := anchorURL(2)
		add(DrepRegistration, gcDrepViewOfCred(cert.at(1)), nil, url, hash)
	case 3, 6:
		return kind, nil
	default:
		tb.Fatalf("certificate kind %d", kind)
	}
	return kind, w
}

// gcRewardAddr builds reward address bytes from a [type, hash] credential.
func gcRewardAddr(netID uint8, cred *gcItem) []byte {
	header := 0xe0 | netID
	if cred.at(0).uint() == 1 {
		header |= 0x10
	}
	return append([]byte{header}, cred.at(1).bytes...)
}

func gcDrepView(d *gcItem) string {
	switch d.at(0).uint() {
	case 0:
		return gcBech32("drep", d.at(1).bytes)
	case 1:
		return gcBech32("drep_script", d.at(1).bytes)
	case 2:
		return "drep_always_abstain"
	case 3:
		return "drep_always_no_confidence"
	}
	return "?"
}

func gcDrepViewOfCred(cred *gcItem) string {
	if cred.at(0).uint() == 1 {
		return gcBech32("drep_script", cred.at(1).bytes)
	}
	return gcBech32("drep", cred.at(1).bytes)
}

// gcCheckRows asserts that a table's rows with the (column 0, column 1) keys
// of the wanted rows are exactly the wanted rows.
func gcCheckRows(tb testing.TB, what string, rows *Rows, want map[TableID][][]any) {
	tb.Helper()
	key := func(r []any) string { return fmt.Sprintf("%#v/%#v", r[0], r[1]) }
	for t, wantRows := range want {
		keys := map[string]bool{}
		for _, r := range wantRows {
			keys[key(r)] = true
		}
		var got [][]any
		for _, r := range rows[t] {
			if keys[key(r)] {
				got = append(got, baseRow(t, r))
			}
		}
		if !gcSameRows(got, wantRows) {
			tb.Errorf("%s: %s rows\n got %v\nwant %v", what, Tables[t].Name, got, wantRows)
		}
	}
}

func gcSameRows(a, b [][]any) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(r []any) string { return fmt.Sprintf("%#v", r) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func gcHasRow(rows *Rows, t TableID, want []any) bool {
	for _, r := range rows[t] {
		if reflect.DeepEqual(baseRow(t, r), want) {
			return true
		}
	}
	return false
}

// baseRow is a row without the columns assignIDs computes (ids_test.go checks those).
func baseRow(t TableID, r []any) []any {
	if n := len(Tables[t].Columns) - len(Tables[t].Computed); len(r) > n {
		return r[:n]
	}
	return r
}

func gcHasKey(rows *Rows, t TableID, first any) bool {
	for _, r := range rows[t] {
		if reflect.DeepEqual(r[0], first) {
			return true
		}
	}
	return false
}

func gcFindRow(rows *Rows, t TableID, c0, c1 any) []any {
	for _, r := range rows[t] {
		if reflect.DeepEqual(r[0], c0) && reflect.DeepEqual(r[1], c1) {
			return r
		}
	}
	return nil
}

func gcSameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func gcFixture(tb testing.TB, file string) fixtureBlock {
	tb.Helper()
	for _, fb := range loadIndex(tb) {
		if fb.File == file {
			return fb
		}
	}
	tb.Fatalf("no fixture %s", file)
	return fixtureBlock{}
}

func gcTxCtx(net Network, body common.TransactionBody) (*Rows, *txCtx) {
	rows := &Rows{}
	b := &blockCtx{net: net, slot: 42, blockHash: bytes.Repeat([]byte{0xbb}, 32), protoMajor: 10, rows: rows}
	return rows, &txCtx{blockCtx: b, body: body, hash: bytes.Repeat([]byte{0xcc}, 32)}
}

func gcHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func gcCBOR(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := cbor.Encode(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// gcTx is a transaction body as read from the block bytes.
type gcTx struct {
	hash []byte
	body *gcItem
}

// gcTxs reads the transaction bodies of a Shelley-or-later block:
// [header, [body...], [witnesses...], {aux}, [invalid]?].
func gcTxs(tb testing.TB, block []byte) []gcTx {
	tb.Helper()
	items := gcParseAll(tb, block)
	if len(items) != 1 || items[0].major != 4 {
		tb.Fatal("block is not one CBOR array")
	}
	var out []gcTx
	for _, body := range items[0].at(1).items {
		h := blake2b.Sum256(body.raw)
		out = append(out, gcTx{hash: h[:], body: body})
	}
	return out
}

// gcItem is one decoded CBOR data item. This reader is deliberately
// separate from gouroboros's decoder.
type gcItem struct {
	major  byte
	val    uint64 // unsigned and negative integers (-1-val), tag numbers, simple values
	bytes  []byte
	text   string
	items  []*gcItem // array
	keys   []*gcItem // map
	vals   []*gcItem
	tagged *gcItem
	raw    []byte
}

func (it *gcItem) at(i int) *gcItem {
	if it == nil {
		return nil
	}
	if it.major == 6 {
		return it.tagged.at(i)
	}
	if i >= len(it.items) {
		return nil
	}
	return it.items[i]
}

// list returns an array's items, looking through a set tag (258).
func (it *gcItem) list() []*gcItem {
	if it == nil {
		return nil
	}
	if it.major == 6 {
		return it.tagged.list()
	}
	return it.items
}

// get returns the value of an unsigned integer key of a map.
func (it *gcItem) get(key uint64) *gcItem {
	if it == nil {
		return nil
	}
	for i, k := range it.keys {
		if k.major == 0 && k.val == key {
			return it.vals[i]
		}
	}
	return nil
}

func (it *gcItem) uint() uint64 {
	if it == nil {
		return 0
	}
	return it.val
}

func (it *gcItem) int() *big.Int {
	n := new(big.Int).SetUint64(it.val)
	switch it.major {
	case 1:
		return n.Neg(n).Sub(n, big.NewInt(1))
	case 6: // bignums
		n.SetBytes(it.tagged.bytes)
		if it.val == 3 {
			n.Neg(n).Sub(n, big.NewInt(1))
		}
	}
	return n
}

func (it *gcItem) isNull() bool { return it == nil || (it.major == 7 && it.val == 22) }

func gcParseAll(tb testing.TB, data []byte) []*gcItem {
	tb.Helper()
	var out []*gcItem
	for len(data) > 0 {
		it, n, err := gcParse(data, 0)
		if err != nil {
			tb.Fatalf("parse cbor: %v", err)
		}
		out = append(out, it)
		data = data[n:]
	}
	return out
}

func gcParse(data []byte, depth int) (*gcItem, int, error) {
	if depth > 64 {
		return nil, 0, fmt.Errorf("too deep")
	}
	if len(data) == 0 {
		return nil, 0, fmt.Errorf("short data")
	}
	it := &gcItem{major: data[0] >> 5}
	ai := data[0] & 0x1f
	pos := 1
	indefinite := false
	switch {
	case ai < 24:
		it.val = uint64(ai)
	case ai <= 27:
		n := 1 << (ai - 24)
		if len(data) < 1+n {
			return nil, 0, fmt.Errorf("short argument")
		}
		var buf [8]byte
		copy(buf[8-n:], data[1:1+n])
		it.val = binary.BigEndian.Uint64(buf[:])
		pos += n
	case ai == 31:
		indefinite = true
	default:
		return nil, 0, fmt.Errorf("reserved additional info %d", ai)
	}
	next := func() (*gcItem, error) {
		sub, n, err := gcParse(data[pos:], depth+1)
		pos += n
		return sub, err
	}
	isBreak := func() bool { return pos < len(data) && data[pos] == 0xff }
	switch it.major {
	case 2, 3:
		if indefinite {
			var buf []byte
			for !isBreak() {
				chunk, err := next()
				if err != nil {
					return nil, 0, err
				}
				buf = append(buf, chunk.bytes...)
				buf = append(buf, chunk.text...)
			}
			pos++
			it.bytes, it.text = buf, string(buf)
		} else {
			if uint64(len(data)-pos) < it.val {
				return nil, 0, fmt.Errorf("short string")
			}
			s := data[pos : pos+int(it.val)]
			pos += int(it.val)
			if it.major == 2 {
				it.bytes = slices.Clone(s)
			} else {
				it.text = string(s)
			}
		}
	case 4, 5:
		for i := uint64(0); indefinite || i < it.val; i++ {
			if indefinite && isBreak() {
				pos++
				break
			}
			a, err := next()
			if err != nil {
				return nil, 0, err
			}
			if it.major == 4 {
				it.items = append(it.items, a)
				continue
			}
			v, err := next()
			if err != nil {
				return nil, 0, err
			}
			it.keys, it.vals = append(it.keys, a), append(it.vals, v)
		}
	case 6:
		sub, err := next()
		if err != nil {
			return nil, 0, err
		}
		it.tagged = sub
	}
	it.raw = data[:pos]
	return it, pos, nil
}

// gcBech32 is BIP-173 bech32 (no length limit), written out here so that
// the tests do not use the encoder they check.
func gcBech32(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	// 8-bit to 5-bit groups.
	var five []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			five = append(five, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		five = append(five, byte(acc<<(5-bits))&31)
	}
	polymod := func(values []byte) uint32 {
		gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range values {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i := range 5 {
				if (top>>i)&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var values []byte
	for _, c := range hrp {
		values = append(values, byte(c)>>5)
	}
	values = append(values, 0)
	for _, c := range hrp {
		values = append(values, byte(c)&31)
	}
	values = append(values, five...)
	mod := polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var sb strings.Builder
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, v := range five {
		sb.WriteByte(charset[v])
	}
	for i := range 6 {
		sb.WriteByte(charset[(mod>>(5*(5-i)))&31])
	}
	return sb.String()
}

func TestBech32Encoder(t *testing.T) {
	// BIP-173's empty test vector, and a pool id against gouroboros's encoder.
	if got := gcBech32("a", nil); got != "a12uel5l" {
		t.Errorf("bech32 %s, want a12uel5l", got)
	}
	pool := gcHex(t, "5121819e5114235cb8c377ecf0a9d4e311898c447043e3b5b2848f63")
	if got, want := gcBech32("pool", pool), common.NewBlake2b224(pool).Bech32("pool"); got != want {
		t.Errorf("bech32 %s, want %s", got, want)
	}
}

// gcChunk splits an ImmutableDB chunk into its [era_tag, block] entries.
func gcChunk(tb testing.TB, path string) (eras []uint, blocks [][]byte) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range gcParseAll(tb, data) {
		if it.major != 4 || len(it.items) != 2 {
			tb.Fatal("chunk entry is not [era, block]")
		}
		eras = append(eras, uint(it.items[0].val))
		blocks = append(blocks, it.items[1].raw)
	}
	return eras, blocks
}

// TestPoolRewardAddressTakesChainNetwork: a registration whose reward
// account names the other network gets this chain's network in reward_addr,
// as db-sync stores it (Universal/Insert/Pool.hs adjustNetworkTag).
func TestPoolRewardAddressTakesChainNetwork(t *testing.T) {
	h := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	for _, tc := range []struct {
		header byte
		want   string
	}{
		{0xe1, gcBech32("stake", append([]byte{0xe1}, h(28, 4)...))},
		{0xe0, gcBech32("stake", append([]byte{0xe1}, h(28, 4)...))},
		{0xf0, gcBech32("stake", append([]byte{0xf1}, h(28, 4)...))},
	} {
		raw := gcCBOR(t, []any{3, h(28, 1), h(32, 2), 1, 2, cbor.Tag{Number: 30, Content: []any{1, 2}},
			append([]byte{tc.header}, h(28, 4)...), []any{}, []any{}, nil})
		var w common.CertificateWrapper
		if _, err := cbor.Decode(raw, &w); err != nil {
			t.Fatal(err)
		}
		rows, c := gcTxCtx(Mainnet, &conway.ConwayTransactionBody{})
		if err := c.certificate(0, w.Certificate); err != nil {
			t.Fatal(err)
		}
		if got := rows[PoolUpdate][0][9]; got != tc.want {
			t.Errorf("header %#x: reward_addr %v, want %s", tc.header, got, tc.want)
		}
		if !gcHasKey(rows, StakeAddress, tc.want) {
			t.Errorf("header %#x: no stake_address row", tc.header)
		}
	}
}

// wireIPv6 is an IPv6 address as a pool certificate carries it: four 32-bit
// words, each little-endian (the ledger's encoding, which db-sync reads back).
func wireIPv6(text string) []byte {
	a := net.ParseIP(text).To16()
	out := make([]byte, 16)
	for w := range 4 {
		for i := range 4 {
			out[4*w+i] = a[4*w+3-i]
		}
	}
	return out
}
