package chain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
	"github.com/blinklabs-io/gouroboros/ledger/conway"
)

var gcActionNames = []string{"ParameterChange", "HardForkInitiation", "TreasuryWithdrawals", "NoConfidence",
	"NewCommittee", "NewConstitution", "InfoAction"}

// gcWantGovRows computes, from a raw Conway transaction body, its
// voting_procedure and gov_action_proposal rows.
func gcWantGovRows(tb testing.TB, txHash []byte, slot uint64, body *gcItem) (votes, proposals [][]any) {
	tb.Helper()
	roles := []string{"ConstitutionalCommittee", "ConstitutionalCommittee", "DRep", "DRep", "SPO"}
	voteNames := []string{"No", "Yes", "Abstain"}
	if vp := body.get(19); vp != nil {
		for i, voter := range vp.keys {
			vt := voter.at(0).uint()
			for j, action := range vp.vals[i].keys {
				proc := vp.vals[i].vals[j]
				var url, hash any
				if a := proc.at(1); !a.isNull() {
					url, hash = a.at(0).text, a.at(1).bytes
				}
				// A DRep voter's CIP-105 id: drep1… (key hash), drep_script1….
				var drepVoter any
				switch vt {
				case 2:
					drepVoter = gcBech32("drep", voter.at(1).bytes)
				case 3:
					drepVoter = gcBech32("drep_script", voter.at(1).bytes)
				}
				votes = append(votes, []any{txHash, roles[vt], voter.at(1).bytes, action.at(0).bytes,
					action.at(1).uint(), slot, vt == 1 || vt == 3, voteNames[proc.at(0).uint()], url, hash, drepVoter})
			}
		}
	}
	for i, p := range body.get(20).list() {
		ra := p.at(1).bytes
		hrp := "stake"
		if ra[0]&0x0f == 0 {
			hrp = "stake_test"
		}
		action := p.at(2)
		tag := action.at(0).uint()
		var prevHash, prevIndex any
		switch tag {
		case 0, 1, 3, 4, 5:
			if prev := action.at(1); !prev.isNull() {
				prevHash, prevIndex = prev.at(0).bytes, prev.at(1).uint()
			}
		}
		proposals = append(proposals, []any{txHash, uint64(i), slot, p.at(0).int().String(), gcBech32(hrp, ra),
			gcActionNames[tag], "<description>", prevHash, prevIndex, p.at(3).at(0).text, p.at(3).at(1).bytes})
	}
	return votes, proposals
}

// gcCheckGov compares the governance rows of a decoded block with the rows
// computed from its bytes, and checks every description and anchor.
func gcCheckGov(tb testing.TB, what string, raw []byte, d *Decoded) (votes, proposals int) {
	tb.Helper()
	var wantVotes, wantProps [][]any
	for _, tx := range gcTxs(tb, raw) {
		v, p := gcWantGovRows(tb, tx.hash, d.Slot, tx.body)
		wantVotes, wantProps = append(wantVotes, v...), append(wantProps, p...)
	}
	var gotVotes [][]any
	for _, r := range d.Rows[VotingProcedure] {
		gotVotes = append(gotVotes, baseRow(VotingProcedure, r))
	}
	if !gcSameRows(gotVotes, wantVotes) {
		tb.Errorf("%s: voting_procedure rows\n got %v\nwant %v", what, gotVotes, wantVotes)
	}
	var gotProps [][]any
	for _, r := range d.Rows[GovActionProposal] {
		desc, _ := r[6].(string)
		var js struct {
			Tag      string          `json:"tag"`
			Contents json.RawMessage `json:"contents"`
		}
		if err := json.Unmarshal([]byte(desc), &js); err != nil || js.Tag != r[5] || len(js.Contents) == 0 {
			tb.Errorf("%s: description %q of a %v: %v", what, desc, r[5], err)
		}
		if !gcHasRow(&d.Rows, VotingAnchor, []any{r[9], r[10], d.Slot}) {
			tb.Errorf("%s: no voting_anchor for %v", what, r[9])
		}
		r = append([]any{}, baseRow(GovActionProposal, r)...)
		r[6] = "<description>"
		gotProps = append(gotProps, r)
	}
	if !gcSameRows(gotProps, wantProps) {
		tb.Errorf("%s: gov_action_proposal rows\n got %v\nwant %v", what, gotProps, wantProps)
	}
	for _, r := range d.Rows[VotingProcedure] {
		if r[8] != nil && !gcHasRow(&d.Rows, VotingAnchor, []any{r[8], r[9], d.Slot}) {
			tb.Errorf("%s: no voting_anchor for %v", what, r[8])
		}
	}
	return len(wantVotes), len(wantProps)
}

func TestGovernanceMatchesIndex(t *testing.T) {
	var votes, proposals int
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got, want := len(d.Rows[VotingProcedure]), fb.Counts["voting_procedures"]; got != want {
				t.Errorf("voting_procedure rows %d, index says %d", got, want)
			}
			if got, want := len(d.Rows[GovActionProposal]), fb.Counts["proposals"]; got != want {
				t.Errorf("gov_action_proposal rows %d, index says %d", got, want)
			}
			if fb.era(t) == EraConway {
				v, p := gcCheckGov(t, fb.File, raw, d)
				votes, proposals = votes+v, proposals+p
			}
		})
	}
	if votes == 0 || proposals == 0 {
		t.Errorf("fixtures hold %d votes and %d proposals; want some of each", votes, proposals)
	}
}

// TestGovernanceByHand pins one mainnet vote and one mainnet proposal
// (TestGovernanceMatchesIndex derives such rows from the bytes; this shows them).
func TestGovernanceByHand(t *testing.T) {
	fb := gcFixture(t, "conway/mainnet_conway_slot146179467_1ca6c5f875e8.cbor")
	d, err := DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
	if err != nil {
		t.Fatal(err)
	}
	pool := gcHex(t, "bae344acfd116c5e7913c289c5fb9091757cd3609a177e4c8955b738")
	want := []any{gcHex(t, "e1e9041ef8a628e4304615144df1f77f8747bd73c0001f211b57357c5171d512"), "SPO", pool,
		gcHex(t, "0b19476e40bbbb5e1e8ce153523762e2b6859e7ecacbaf06eae0ee6a447e79b9"), uint64(0), d.Slot, false, "Yes", nil, nil, nil}
	if !gcHasRow(&d.Rows, VotingProcedure, want) {
		t.Errorf("voting_procedure rows %v", d.Rows[VotingProcedure])
	}
	if !gcHasRow(&d.Rows, PoolHash, []any{pool, gcBech32("pool", pool), d.Slot}) {
		t.Error("the voting pool has no pool_hash row")
	}

	fb = gcFixture(t, "conway/mainnet_conway_slot138832413_64ac517915de.cbor")
	d, err = DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows[GovActionProposal]) != 1 {
		t.Fatalf("%d proposals", len(d.Rows[GovActionProposal]))
	}
	p := d.Rows[GovActionProposal][0]
	if p[3] != "100000000000" || p[4] != "stake1uyguuqwdpexmhgjd07vax5t2ay3f7qvea49ex907g6fmvjclq6l03" || p[5] != "ParameterChange" ||
		p[9] != "https://raw.githubusercontent.com/IntersectMBO/governance-actions/refs/heads/main/mainnet/2024-10-21-ppu/metadata.jsonld" {
		t.Errorf("proposal %v", p[:6])
	}
	var desc struct {
		Contents struct {
			ParamUpdate map[string]json.RawMessage `json:"param_update"`
		} `json:"contents"`
	}
	if err := json.Unmarshal([]byte(p[6].(string)), &desc); err != nil {
		t.Fatal(err)
	}
	// This 2024-10-21 update proposal carries the Plutus V3 cost model.
	var models map[string][]int64
	if err := json.Unmarshal(desc.Contents.ParamUpdate["cost_models"], &models); err != nil || len(models["2"]) == 0 {
		t.Errorf("cost_models %s: %v", desc.Contents.ParamUpdate["cost_models"], err)
	}
}

// TestGovernanceAllKinds runs every voter type, vote, DRep kind and
// governance action type through the mapping.
func TestGovernanceAllKinds(t *testing.T) {
	h28 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 28) }
	h32 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	enc := func(v any) []byte { return gcCBOR(t, v) }
	cborMap := func(pairs ...[]byte) []byte {
		out := []byte{0xa0 | byte(len(pairs)/2)}
		for _, p := range pairs {
			out = append(out, p...)
		}
		return out
	}
	raw := func(b []byte) cbor.RawMessage { return cbor.RawMessage(b) }
	actionID := []any{h32(0x11), 3}
	anchor := []any{"https://example.com/p.json", h32(0xaa)}
	reward := func(b byte) []byte { return append([]byte{0xe1}, h28(b)...) }

	var votes []byte
	{
		var pairs [][]byte
		for vt := range 5 {
			inner := cborMap(enc(actionID), enc([]any{vt % 3, anchor}),
				enc([]any{h32(0x12), 0}), enc([]any{1, nil}))
			pairs = append(pairs, enc([]any{vt, h28(byte(0x20 + vt))}), inner)
		}
		votes = cborMap(pairs...)
	}
	actions := [][]byte{
		enc([]any{0, actionID, raw(cborMap(enc(0), enc(44), enc(10), enc(cbor.Tag{Number: 30, Content: []any{3, 1000}}),
			enc(18), cborMap(enc(2), enc([]int64{1, -2, 3})))), nil}),
		enc([]any{1, nil, []any{10, 0}}),
		enc([]any{2, raw(cborMap(enc(reward(1)), enc(5), enc(reward(2)), enc(7), enc(append([]byte{0xf1}, h28(3)...)), enc(9))), h28(0x44)}),
		enc([]any{3, actionID}),
		enc([]any{4, actionID, cbor.Tag{Number: 258, Content: []any{[]any{0, h28(5)}, []any{1, h28(6)}}},
			raw(cborMap(enc([]any{0, h28(7)}), enc(600), enc([]any{1, h28(8)}), enc(700))),
			cbor.Tag{Number: 30, Content: []any{2, 3}}}),
		enc([]any{5, nil, []any{anchor, h28(0x45)}}),
		enc([]any{6}),
	}
	var props []any
	for i, a := range actions {
		props = append(props, []any{uint64(100_000_000_000 + i), reward(0x30), raw(a), anchor})
	}
	body := &conway.ConwayTransactionBody{}
	if _, err := cbor.Decode(votes, &body.TxVotingProcedures); err != nil {
		t.Fatalf("decode votes: %v", err)
	}
	if _, err := cbor.Decode(enc(props), &body.TxProposalProcedures); err != nil {
		t.Fatalf("decode proposals: %v", err)
	}
	rows, c := gcTxCtx(Mainnet, body)
	if err := c.governance(); err != nil {
		t.Fatalf("governance: %v", err)
	}
	rows.Dedup()

	bodyBytes := cborMap(enc(19), votes, enc(20), enc(props))
	parsed := gcParseAll(t, bodyBytes)[0]
	wantVotes, wantProps := gcWantGovRows(t, c.hash, c.slot, parsed)
	if len(wantVotes) != 10 || len(wantProps) != 7 {
		t.Fatalf("built %d votes, %d proposals", len(wantVotes), len(wantProps))
	}
	if !gcSameRows(rows[VotingProcedure], wantVotes) {
		t.Errorf("voting_procedure rows\n got %v\nwant %v", rows[VotingProcedure], wantVotes)
	}
	descriptions := map[string]string{}
	for i, r := range rows[GovActionProposal] {
		descriptions[r[5].(string)] = r[6].(string)
		r = append([]any{}, r...)
		r[6] = "<description>"
		if !reflect.DeepEqual(r, wantProps[i]) {
			t.Errorf("proposal %d\n got %v\nwant %v", i, r, wantProps[i])
		}
	}
	for _, view := range []string{gcBech32("drep", h28(0x22)), gcBech32("drep_script", h28(0x23))} {
		if !gcHasKey(rows, DrepHash, view) {
			t.Errorf("no drep_hash row for voter %s", view)
		}
	}
	if !gcHasRow(rows, PoolHash, []any{h28(0x24), gcBech32("pool", h28(0x24)), c.slot}) {
		t.Error("no pool_hash row for the SPO voter")
	}
	if len(rows[VotingAnchor]) != 1 {
		t.Errorf("voting_anchor rows %v, want the one anchor", rows[VotingAnchor])
	}

	stake := func(header, b byte) string { return gcBech32("stake", append([]byte{header}, h28(b)...)) }
	wantDesc := map[string]string{
		"ParameterChange": `{"tag":"ParameterChange","contents":{"type":0,"action_id":{"transaction_id":"` + strings.Repeat("11", 32) +
			`","gov_action_idx":3},"param_update":{"min_fee_a":44,"rho":"3/1000","cost_models":{"2":[1,-2,3]}}}}`,
		"HardForkInitiation": `{"tag":"HardForkInitiation","contents":{"type":1,"protocol_version":{"major":10,"minor":0}}}`,
		// Keys sort as text: stake17ypsx... (script), stake1uypq..., stake1uyqs....
		"TreasuryWithdrawals": `{"tag":"TreasuryWithdrawals","contents":{"type":2,"withdrawals":{"` + stake(0xf1, 3) + `":9,"` +
			stake(0xe1, 2) + `":7,"` + stake(0xe1, 1) + `":5},"policy_hash":"` + strings.Repeat("44", 28) + `"}}`,
		"NewCommittee": `{"tag":"NewCommittee","contents":{"type":4,"action_id":{"transaction_id":"` + strings.Repeat("11", 32) +
			`","gov_action_idx":3},"credentials":["keyHash-` + strings.Repeat("05", 28) + `","scriptHash-` + strings.Repeat("06", 28) +
			`"],"cred_epochs":{"keyHash-` + strings.Repeat("07", 28) + `":600,"scriptHash-` + strings.Repeat("08", 28) + `":700},"quorum":"2/3"}}`,
		"NewConstitution": `{"tag":"NewConstitution","contents":{"type":5,"constitution":{"anchor":{"url":"https://example.com/p.json","data_hash":"` +
			strings.Repeat("aa", 32) + `"},"script_hash":"` + strings.Repeat("45", 28) + `"}}}`,
		"InfoAction": `{"tag":"InfoAction","contents":{"type":6}}`,
	}
	for name, want := range wantDesc {
		if got := descriptions[name]; got != want {
			t.Errorf("%s description\n got %s\nwant %s", name, got, want)
		}
	}
	// Maps iterate in random order: the rows must not.
	for range 20 {
		again, c2 := gcTxCtx(Mainnet, body)
		if err := c2.governance(); err != nil {
			t.Fatal(err)
		}
		again.Dedup()
		if !reflect.DeepEqual(again, rows) {
			t.Fatal("governance rows differ between runs")
		}
	}
}

func TestGovernanceErrors(t *testing.T) {
	_, c := gcTxCtx(Mainnet, &conway.ConwayTransactionBody{
		TxVotingProcedures: common.VotingProcedures{
			&common.Voter{Type: 9}: {&common.GovActionId{}: {Vote: 1}},
		},
	})
	if err := c.governance(); err == nil {
		t.Error("unknown voter type: no error")
	}
	_, c = gcTxCtx(Mainnet, &conway.ConwayTransactionBody{
		TxVotingProcedures: common.VotingProcedures{
			&common.Voter{Type: 2}: {&common.GovActionId{}: {Vote: 5}},
		},
	})
	if err := c.governance(); err == nil {
		t.Error("unknown vote: no error")
	}
	_, c = gcTxCtx(Mainnet, &conway.ConwayTransactionBody{
		TxProposalProcedures: []conway.ConwayProposalProcedure{{}},
	})
	if err := c.governance(); err == nil {
		t.Error("proposal without an action: no error")
	}
	if _, err := toJSON(struct{ F float64 }{F: 0}); err != nil {
		t.Errorf("finite float: %v", err)
	}
	for _, v := range []any{struct{ F float64 }{F: nan()}, map[[2]int]int{{1, 2}: 3}, make(chan int)} {
		if js, err := toJSON(v); err == nil {
			t.Errorf("toJSON(%T) = %s, want an error", v, js)
		}
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// TestMainnetConwayChunk decodes the first mainnet Conway chunk after the
// Chang hard fork (bootstrap phase: DRep registrations and vote delegations,
// no proposals or votes yet) and checks its certificate and governance rows
// against the bytes.
func TestMainnetConwayChunk(t *testing.T) {
	eras, blocks := gcChunk(t, filepath.Join(fixtureDir, "chains", "mainnet", "06189.chunk"))
	if len(blocks) != 1054 {
		t.Fatalf("%d blocks, want 1054", len(blocks))
	}
	kinds := map[uint64]int{}
	var all Rows
	var votes, proposals int
	for i, raw := range blocks {
		d, err := DecodeBlock(Mainnet, eras[i], raw)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		wantKeys := map[string]bool{}
		for _, tx := range gcTxs(t, raw) {
			for j, cert := range tx.body.get(4).list() {
				wantKeys[fmt.Sprintf("%x/%d", tx.hash, j)] = true
				kind, want := gcWantCertRows(t, 1, tx.hash, uint64(j), d.Slot, cert)
				kinds[kind]++
				if want != nil {
					gcCheckRows(t, fmt.Sprintf("block %d tx %x cert %d", i, tx.hash[:4], j), &d.Rows, want)
				}
			}
		}
		if got := gcCertKeys(&d.Rows); !gcSameKeys(got, wantKeys) {
			t.Errorf("block %d: %d certificates with rows, %d in the bytes", i, len(got), len(wantKeys))
		}
		v, p := gcCheckGov(t, fmt.Sprintf("block %d", i), raw, d)
		votes, proposals = votes+v, proposals+p
		all.Append(&d.Rows)
	}
	all.Dedup()
	t.Logf("certificate kinds %v; rows: delegation_vote %d, drep_registration %d, drep_hash %d, voting_anchor %d; votes %d, proposals %d",
		kinds, len(all[DelegationVote]), len(all[DrepRegistration]), len(all[DrepHash]), len(all[VotingAnchor]), votes, proposals)
	if got, want := len(all[DelegationVote]), kinds[9]+kinds[10]+kinds[12]+kinds[13]; got != want || got == 0 {
		t.Errorf("delegation_vote rows %d, want %d (and some)", got, want)
	}
	if got, want := len(all[DrepRegistration]), kinds[16]+kinds[17]+kinds[18]; got != want || got == 0 {
		t.Errorf("drep_registration rows %d, want %d (and some)", got, want)
	}
	for _, r := range all[DrepHash] {
		view := r[0].(string)
		if !strings.HasPrefix(view, "drep1") && !strings.HasPrefix(view, "drep_script1") &&
			view != DrepAlwaysAbstain && view != DrepAlwaysNoConfidence {
			t.Errorf("drep view %q", view)
		}
	}
	for _, r := range all[DrepRegistration] {
		// Mainnet's DRep deposit is 500 ada.
		if r[4] != nil && r[4] != "500000000" {
			t.Errorf("drep deposit %v", r[4])
		}
	}
	if len(all[VotingAnchor]) == 0 {
		t.Error("no voting_anchor rows")
	}
}
