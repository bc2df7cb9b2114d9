package chainref

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// What the database must hold for the shipped blocks, derived from the
// reference's reading alone, with the ledger's (and db-sync's) semantics:
// a phase-2-invalid transaction spends only its collateral inputs and creates
// only its collateral return; none of its other effects happen.
//
// Values are rendered as the comparison reads the database: bytes in
// lowercase hex, numbers in decimal, booleans 1/0, NULL for absent values.

// null renders an absent value.
const null = "NULL"

func hx(b []byte) string {
	if b == nil {
		return null
	}
	return hex.EncodeToString(b)
}

func dec[T uint64 | int64 | int | uint](v T) string { return strconv.FormatInt(int64(v), 10) }

func decU(v uint64) string { return strconv.FormatUint(v, 10) }

func optU(v *uint64) string {
	if v == nil {
		return null
	}
	return decU(*v)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// row is one expected row: its compared columns and where it comes from.
type row struct {
	where string
	cols  map[string]string
}

// table is the expected rows of one table by key (the key columns' values
// joined by '|'), and which columns are compared.
type table struct {
	name    string
	key     []string
	cols    []string
	rows    map[string]row
	subset  bool // the database may hold rows the reference does not derive (shared rows from other sources)
	comment string
}

// expected is every compared table.
type expected struct {
	tables map[string]*table
	order  []string
	// redeemers holds, by table and row key, the redeemer that validates a
	// withdrawal or a certificate's row ("purpose|index"): what the views'
	// redeemer_id must point at.
	redeemers map[string]map[string]string
}

// redeemerTables are the tables whose views name the redeemer of the row.
var redeemerTables = []string{"withdrawal", "stake_registration", "stake_deregistration", "delegation", "delegation_vote"}

func newExpected() *expected {
	e := &expected{tables: map[string]*table{}, redeemers: map[string]map[string]string{}}
	for _, t := range redeemerTables {
		e.redeemers[t] = map[string]string{}
	}
	def := func(name string, key, cols []string, subset bool) {
		e.tables[name] = &table{name: name, key: key, cols: cols, rows: map[string]row{}, subset: subset}
		e.order = append(e.order, name)
	}
	def("block", []string{"hash"}, []string{"slot_no", "block_no", "epoch_no", "epoch_slot_no", "era", "block_type", "prev_hash",
		"size", "tx_count", "slot_leader", "proto_major", "proto_minor", "id"}, false)
	def("slot_leader", []string{"hash"}, []string{"pool_hash", "description"}, false)
	def("tx", []string{"hash"}, []string{"block_hash", "slot_no", "block_index", "out_sum", "fee", "size", "invalid_before",
		"invalid_hereafter", "valid_contract", "total_collateral", "treasury_donation", "id", "block_id"}, false)
	outCols := []string{"slot_no", "address", "address_raw", "address_has_script", "payment_cred", "stake_address", "value",
		"data_hash", "inline_datum_hash", "reference_script_hash", "id", "tx_id"}
	def("tx_fee", []string{"tx_hash"}, []string{"fee"}, false)
	def("tx_out", []string{"tx_hash", "index"}, outCols, false)
	def("collateral_tx_out", []string{"tx_hash", "index"}, outCols, false)
	inKey := []string{"tx_in_hash", "tx_out_hash", "tx_out_index"}
	def("tx_in", inKey, []string{"slot_no", "id", "tx_in_id"}, false)
	def("collateral_tx_in", inKey, []string{"slot_no", "tx_in_id"}, false)
	def("reference_tx_in", inKey, []string{"slot_no", "tx_in_id"}, false)
	def("ma_tx_out", []string{"tx_hash", "index", "policy", "name"}, []string{"slot_no", "quantity", "tx_id", "tx_out_id"}, false)
	def("ma_tx_mint", []string{"tx_hash", "policy", "name"}, []string{"slot_no", "quantity", "tx_id"}, false)
	def("multi_asset", []string{"policy", "name"}, []string{"fingerprint"}, false)
	def("tx_metadata", []string{"tx_hash", "key"}, []string{"slot_no", "bytes"}, false)
	def("stake_address", []string{"view"}, []string{"hash_raw", "script_hash"}, true)
	def("stake_registration", []string{"tx_hash", "cert_index"}, []string{"slot_no", "stake_address"}, false)
	def("stake_deregistration", []string{"tx_hash", "cert_index"}, []string{"slot_no", "stake_address"}, false)
	def("delegation", []string{"tx_hash", "cert_index"}, []string{"slot_no", "stake_address", "pool_hash", "tx_id"}, false)
	def("pool_hash", []string{"hash_raw"}, []string{"view"}, true)
	def("pool_update", []string{"tx_hash", "cert_index"}, []string{"slot_no", "pool_hash", "vrf_key_hash", "pledge", "cost",
		"margin_numerator", "margin_denominator"}, false)
	def("pool_owner", []string{"tx_hash", "cert_index", "owner"}, []string{"slot_no", "stake_address"}, false)
	def("pool_relay", []string{"tx_hash", "cert_index", "relay_index"}, []string{"slot_no", "ipv4", "ipv6", "dns_name", "dns_srv_name", "port"}, false)
	def("pool_metadata_ref", []string{"tx_hash", "cert_index"}, []string{"slot_no", "pool_hash", "url", "hash"}, false)
	def("pool_retire", []string{"tx_hash", "cert_index"}, []string{"slot_no", "pool_hash", "retiring_epoch"}, false)
	def("reserve", []string{"tx_hash", "cert_index", "stake_address"}, []string{"slot_no", "amount"}, false)
	def("treasury", []string{"tx_hash", "cert_index", "stake_address"}, []string{"slot_no", "amount"}, false)
	def("pot_transfer", []string{"tx_hash", "cert_index"}, []string{"slot_no", "reserves", "treasury"}, false)
	def("withdrawal", []string{"tx_hash", "stake_address"}, []string{"slot_no", "amount"}, false)
	def("redeemer", []string{"tx_hash", "purpose", "index"}, []string{"slot_no", "unit_mem", "unit_steps", "data_hash",
		"tx_id", "script_hash", "tx_out_hash", "tx_out_index"}, false)
	def("script", []string{"hash"}, []string{"type"}, false)
	def("datum", []string{"hash"}, []string{"bytes"}, false)
	def("extra_key_witness", []string{"tx_hash", "hash"}, []string{"slot_no"}, false)
	def("delegation_vote", []string{"tx_hash", "cert_index"}, []string{"slot_no", "stake_address"}, false)
	def("drep_registration", []string{"tx_hash", "cert_index"}, []string{"slot_no", "deposit", "voting_anchor_url", "voting_anchor_hash"}, false)
	def("committee_registration", []string{"tx_hash", "cert_index"}, []string{"slot_no", "cold_key", "cold_key_is_script", "hot_key", "hot_key_is_script"}, false)
	def("committee_deregistration", []string{"tx_hash", "cert_index"}, []string{"slot_no", "cold_key", "cold_key_is_script"}, false)
	def("voting_procedure", []string{"tx_hash", "voter_hash", "gov_action_tx_hash", "gov_action_index"}, []string{"slot_no", "voter_is_script", "drep_voter"}, false)
	def("gov_action_proposal", []string{"tx_hash", "index"}, []string{"slot_no", "deposit", "return_address", "type",
		"prev_gov_action_tx_hash", "prev_gov_action_index", "voting_anchor_url", "voting_anchor_hash"}, false)
	return e
}

// add records a row; a row whose key repeats must agree with the first (a
// block shipped twice, a shared row seen again).
func (e *expected) add(tab, where string, kv ...string) error {
	t := e.tables[tab]
	vals := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		vals[kv[i]] = kv[i+1]
	}
	var key []string
	for _, k := range t.key {
		v, ok := vals[k]
		if !ok {
			return fmt.Errorf("expected %s row without key column %s", tab, k)
		}
		key = append(key, v)
	}
	r := row{where: where, cols: map[string]string{}}
	for _, c := range t.cols {
		v, ok := vals[c]
		if !ok {
			return fmt.Errorf("expected %s row without column %s", tab, c)
		}
		r.cols[c] = v
	}
	k := strings.Join(key, "|")
	if old, ok := t.rows[k]; ok {
		if tab == "stake_address" || tab == "pool_hash" || tab == "multi_asset" || tab == "script" || tab == "datum" || tab == "slot_leader" {
			return nil // shared rows: the first one seen stands
		}
		for _, c := range t.cols {
			if old.cols[c] != r.cols[c] {
				return fmt.Errorf("%s %s: two derivations disagree on %s (%s at %s, %s at %s)", tab, k, c, old.cols[c], old.where, r.cols[c], where)
			}
		}
		return nil
	}
	t.rows[k] = r
	return nil
}

// network is what the expectations need of a network: its address network id
// and its published genesis epoch layout.
type network struct {
	id                      byte // 1 mainnet, 0 testnets
	known                   bool
	byronEpochs, byronSlots uint64 // Byron epochs and their length in slots
	epochLength             uint64
}

// networks: mainnet's, preprod's and preview's published genesis files.
var networks = map[string]network{
	"mainnet": {id: 1, known: true, byronEpochs: 208, byronSlots: 21600, epochLength: 432000},
	"preprod": {id: 0, known: true, byronEpochs: 4, byronSlots: 21600, epochLength: 432000},
	"preview": {id: 0, known: true, byronEpochs: 0, byronSlots: 21600, epochLength: 86400},
}

func networkOf(name string) network {
	if n, ok := networks[name]; ok {
		return n
	}
	if name == "mainnet" {
		return network{id: 1}
	}
	return network{id: 0}
}

func (n network) epoch(slot uint64) (epoch, epochSlot string) {
	if !n.known {
		return "", ""
	}
	byronEnd := n.byronEpochs * n.byronSlots
	if slot < byronEnd {
		return decU(slot / n.byronSlots), decU(slot % n.byronSlots)
	}
	s := slot - byronEnd
	return decU(n.byronEpochs + s/n.epochLength), decU(s % n.epochLength)
}

var relayNames = map[string]bool{"single_host_addr": true, "single_host_name": true, "multi_host_name": true}

// expect adds the rows of one block read by the reference.
func (e *expected) expect(netName string, b *Block) error {
	net := networkOf(netName)
	where := fmt.Sprintf("%s block %x (slot %d)", netName, b.Hash, b.Slot)
	blockNo := null
	if b.HasBlockNo && !b.EBB {
		blockNo = decU(b.BlockNo)
	}
	protoMajor, protoMinor := null, null
	if b.HasProto {
		protoMajor, protoMinor = decU(b.ProtoMajor), decU(b.ProtoMinor)
	}
	epoch, epochSlot := net.epoch(b.Slot)
	if b.EBB {
		// db-sync (Era/Byron/Insert.hs insertABOBBoundary): an EBB has no slot within
		// its epoch and protocol version 0.0.
		epochSlot, protoMajor, protoMinor = null, "0", "0"
	}
	leader := null
	if b.Era != Byron && b.IssuerVkey != nil {
		leader = hx(Blake2b224(b.IssuerVkey))
	}
	size := dec(b.Size)
	if b.Era != Byron {
		size = decU(b.BodySize) // db-sync's block.size from Shelley on: the header's body size
	}
	// Every Shelley-and-later issuer is a pool_hash row and a slot leader
	// "Pool-<first 8 bytes>" (db-sync's); EBBs share one leader of 28 zero bytes.
	switch {
	case b.Era != Byron && b.IssuerVkey != nil:
		issuer := Blake2b224(b.IssuerVkey)
		if _, err := e.pool(where, issuer); err != nil {
			return err
		}
		if err := e.add("slot_leader", where, "hash", hx(issuer), "pool_hash", hx(issuer), "description", "Pool-"+hx(issuer[:8])); err != nil {
			return err
		}
	case b.EBB:
		if err := e.add("slot_leader", where, "hash", hx(make([]byte, 28)), "pool_hash", null, "description", "Epoch boundary slot leader"); err != nil {
			return err
		}
	}
	// Chain-position ids: block slot*2 + (not an EBB); per-transaction rows
	// slot<<20 + their position among the table's rows in the block.
	blockID := 2*b.Slot + 1
	if b.EBB {
		blockID = 2 * b.Slot
	}
	pos := &positions{slot: b.Slot, next: map[string]int{}}
	if err := e.add("block", where, "hash", hx(b.Hash), "slot_no", decU(b.Slot), "block_no", blockNo,
		"epoch_no", orAny(epoch), "epoch_slot_no", orAny(epochSlot), "era", eraTitle(b.Era), "block_type", dec(b.BlockType),
		"prev_hash", hx(b.PrevHash), "size", size, "tx_count", dec(len(b.Txs)), "slot_leader", leader,
		"proto_major", protoMajor, "proto_minor", protoMinor, "id", decU(blockID)); err != nil {
		return err
	}
	for i := range b.Txs {
		if err := e.expectTx(net, where, b, &b.Txs[i], pos); err != nil {
			return err
		}
	}
	return nil
}

// eraTitle is Nectar's block.era (a column db-sync does not have): the era's name capitalised.
func eraTitle(era string) string { return strings.ToUpper(era[:1]) + era[1:] }

// anyValue in an expected column accepts whatever the database holds: the
// reference cannot know it (e.g. the epoch of a network whose genesis is not shipped).
const anyValue = "\x00any"

func orAny(s string) string {
	if s == "" {
		return anyValue
	}
	return s
}

// positions hands out the chain-position ids of one block's rows, table by table.
type positions struct {
	slot uint64
	next map[string]int
}

func (p *positions) id(table string) string {
	n := p.next[table]
	p.next[table] = n + 1
	return decU(p.slot<<20 | uint64(n))
}

func (e *expected) expectTx(net network, blockWhere string, b *Block, tx *Tx, pos *positions) error {
	where := fmt.Sprintf("%s tx %x", blockWhere, tx.Hash)
	h, slot := hx(tx.Hash), decU(b.Slot)
	txID := decU(b.Slot<<20 | uint64(tx.Index))
	blockID := 2*b.Slot + 1
	outs := tx.Outputs
	ins := tx.Inputs
	if !tx.Valid {
		outs, ins = nil, tx.Collateral
		if tx.CollateralReturn != nil {
			outs = []Output{*tx.CollateralReturn}
		}
	}
	var outSum uint64
	for _, o := range outs {
		outSum += o.Lovelace
	}
	fee := null
	switch {
	case !tx.Valid && tx.TotalCollateral != nil:
		fee = decU(*tx.TotalCollateral)
	case tx.Valid && tx.HasFee:
		fee = decU(tx.Fee)
	}
	donation := "0"
	if tx.Donation != nil && tx.Valid {
		donation = decU(*tx.Donation)
	}
	if err := e.add("tx", where, "hash", h, "block_hash", hx(b.Hash), "slot_no", slot, "block_index", dec(tx.Index),
		"out_sum", decU(outSum), "fee", fee, "size", dec(tx.Size), "invalid_before", optU(tx.ValidityStart),
		"invalid_hereafter", optU(tx.TTL), "valid_contract", flag(tx.Valid), "total_collateral", optU(tx.TotalCollateral),
		"treasury_donation", donation, "id", txID, "block_id", decU(blockID)); err != nil {
		return err
	}
	for _, in := range ins {
		if err := e.add("tx_in", where, "tx_in_hash", h, "tx_out_hash", hx(in.TxHash), "tx_out_index", decU(in.Index), "slot_no", slot,
			"id", pos.id("tx_in"), "tx_in_id", txID); err != nil {
			return err
		}
	}
	for _, o := range outs {
		if err := e.expectOutput("tx_out", where, h, slot, &o, net, txID, pos); err != nil {
			return err
		}
	}
	if !tx.Valid {
		return nil // nothing else of an invalid transaction took effect (db-sync: not its collateral or reference rows either)
	}
	if tx.CollateralReturn != nil {
		if err := e.expectOutput("collateral_tx_out", where, h, slot, tx.CollateralReturn, net, txID, pos); err != nil {
			return err
		}
	}
	for _, in := range tx.Collateral {
		if err := e.add("collateral_tx_in", where, "tx_in_hash", h, "tx_out_hash", hx(in.TxHash), "tx_out_index", decU(in.Index), "slot_no", slot, "tx_in_id", txID); err != nil {
			return err
		}
	}
	for _, in := range tx.ReferenceInputs {
		if err := e.add("reference_tx_in", where, "tx_in_hash", h, "tx_out_hash", hx(in.TxHash), "tx_out_index", decU(in.Index), "slot_no", slot, "tx_in_id", txID); err != nil {
			return err
		}
	}
	return e.expectEffects(net, where, h, slot, tx, txID)
}

func (e *expected) expectOutput(tab, where, h, slot string, o *Output, net network, txID string, pos *positions) error {
	w := fmt.Sprintf("%s output #%d", where, o.Index)
	datumHash := o.DatumHash
	if datumHash == nil {
		datumHash = o.InlineDatumHash // db-sync fills data_hash for inline datums too
	}
	refScript := null
	if o.RefScript != nil {
		refScript = hx(o.RefScript.Hash)
		if err := e.add("script", w, "hash", refScript, "type", o.RefScript.Type); err != nil {
			return err
		}
	}
	if o.InlineDatum != nil {
		if err := e.add("datum", w, "hash", hx(o.InlineDatumHash), "bytes", hx(o.InlineDatum)); err != nil {
			return err
		}
	}
	outID := pos.id(tab)
	payment, script, stake := addressParts(o.Address)
	stakeView := null
	if stake != nil {
		stakeView = rewardText(stake)
		if err := e.expectStake(w, stake); err != nil {
			return err
		}
	}
	if err := e.add(tab, w, "tx_hash", h, "index", dec(o.Index), "slot_no", slot, "address", addressText(o.Address),
		"address_raw", hx(o.Address), "address_has_script", flag(script), "payment_cred", hx(payment),
		"stake_address", stakeView, "value", decU(o.Lovelace), "data_hash", hx(datumHash),
		"inline_datum_hash", hx(o.InlineDatumHash), "reference_script_hash", refScript, "id", outID, "tx_id", txID); err != nil {
		return err
	}
	if tab != "tx_out" {
		return nil
	}
	for _, a := range o.Positive() {
		if err := e.add("ma_tx_out", w, "tx_hash", h, "index", dec(o.Index), "policy", hx(a.Policy), "name", hx(a.Name),
			"slot_no", slot, "quantity", decU(a.Quantity), "tx_id", txID, "tx_out_id", outID); err != nil {
			return err
		}
		if err := e.expectAsset(w, a.Policy, a.Name); err != nil {
			return err
		}
	}
	return nil
}

func (e *expected) expectAsset(where string, policy, name []byte) error {
	return e.add("multi_asset", where, "policy", hx(policy), "name", hx(name), "fingerprint", fingerprint(policy, name))
}

// expectStake records the stake_address row of a reward account.
func (e *expected) expectStake(where string, account []byte) error {
	script := null
	if account[0]&0x10 != 0 {
		script = hx(account[1:])
	}
	return e.add("stake_address", where, "view", rewardText(account), "hash_raw", hx(account), "script_hash", script)
}

func (e *expected) stake(where string, c *Credential, net network) (string, error) {
	acct := stakeAccount(*c, net.id)
	return rewardText(acct), e.expectStake(where, acct)
}

func (e *expected) pool(where string, hash []byte) (string, error) {
	return hx(hash), e.add("pool_hash", where, "hash_raw", hx(hash), "view", bech32("pool", hash))
}

// expectEffects adds the rows of what a valid transaction did besides moving value.
func (e *expected) expectEffects(net network, where, h, slot string, tx *Tx, txID string) error {
	for _, m := range tx.Mint {
		if err := e.add("ma_tx_mint", where, "tx_hash", h, "policy", hx(m.Policy), "name", hx(m.Name), "slot_no", slot, "quantity", dec(m.Quantity),
			"tx_id", txID); err != nil {
			return err
		}
		if err := e.expectAsset(where, m.Policy, m.Name); err != nil {
			return err
		}
	}
	for _, m := range tx.Metadata {
		// db-sync's tx_metadata.bytes: the label and its value as a one-entry metadata map.
		single := append(append([]byte{0xa1}, cborUint(m.Label)...), m.Value...)
		if err := e.add("tx_metadata", where, "tx_hash", h, "key", decU(m.Label), "slot_no", slot, "bytes", hx(single)); err != nil {
			return err
		}
	}
	for _, w := range tx.Withdrawals {
		if err := e.expectStake(where, w.RewardAccount); err != nil {
			return err
		}
		if err := e.add("withdrawal", where, "tx_hash", h, "stake_address", rewardText(w.RewardAccount), "slot_no", slot, "amount", decU(w.Amount)); err != nil {
			return err
		}
	}
	for _, r := range tx.Redeemers {
		script, outHash, outIndex := redeemerTarget(tx, r)
		if err := e.add("redeemer", where, "tx_hash", h, "purpose", r.Purpose, "index", decU(r.Index), "slot_no", slot,
			"unit_mem", decU(r.Mem), "unit_steps", decU(r.Steps), "data_hash", hx(r.DataHash), "tx_id", txID,
			"script_hash", script, "tx_out_hash", outHash, "tx_out_index", outIndex); err != nil {
			return err
		}
	}
	for _, s := range tx.Scripts {
		if err := e.add("script", where, "hash", hx(s.Hash), "type", s.Type); err != nil {
			return err
		}
	}
	for _, d := range tx.Datums {
		if err := e.add("datum", where, "hash", hx(d.Hash), "bytes", hx(d.Bytes)); err != nil {
			return err
		}
	}
	for _, k := range tx.RequiredSigners {
		if err := e.add("extra_key_witness", where, "tx_hash", h, "hash", hx(k), "slot_no", slot); err != nil {
			return err
		}
	}
	for i := range tx.Certs {
		if err := e.expectCert(net, where, h, slot, &tx.Certs[i], txID); err != nil {
			return err
		}
	}
	e.expectRedeemerLinks(h, tx)
	for _, v := range tx.Votes {
		script := v.VoterKind == "cc_hot_script" || v.VoterKind == "drep_script"
		// A DRep voter's CIP-105 id (db-sync's drep_voter names its drep_hash row).
		drepVoter := null
		switch v.VoterKind {
		case "drep_key":
			drepVoter = bech32("drep", v.VoterHash)
		case "drep_script":
			drepVoter = bech32("drep_script", v.VoterHash)
		}
		if err := e.add("voting_procedure", where, "tx_hash", h, "voter_hash", hx(v.VoterHash), "gov_action_tx_hash", hx(v.GovActionTx),
			"gov_action_index", decU(v.GovActionIndex), "slot_no", slot, "voter_is_script", flag(script), "drep_voter", drepVoter); err != nil {
			return err
		}
	}
	for _, p := range tx.Proposals {
		prevTx, prevIx := null, null
		if p.PrevAction != nil {
			prevTx, prevIx = hx(p.PrevAction.TxHash), decU(p.PrevAction.Index)
		}
		if err := e.add("gov_action_proposal", where, "tx_hash", h, "index", dec(p.Index), "slot_no", slot, "deposit", decU(p.Deposit),
			"return_address", rewardText(p.ReturnAccount), "type", govActionName(p.ActionType), "prev_gov_action_tx_hash", prevTx,
			"prev_gov_action_index", prevIx, "voting_anchor_url", p.Anchor.URL, "voting_anchor_hash", hx(p.Anchor.Hash)); err != nil {
			return err
		}
	}
	return nil
}

// govActionName is db-sync's gov_action_proposal.type: the ledger's
// constructor name (ParameterChange, HardForkInitiation, TreasuryWithdrawals,
// NoConfidence, NewCommittee, NewConstitution, InfoAction).
func govActionName(kind string) string {
	return map[string]string{"parameter_change": "ParameterChange", "hard_fork_initiation": "HardForkInitiation",
		"treasury_withdrawals": "TreasuryWithdrawals", "no_confidence": "NoConfidence", "update_committee": "NewCommittee",
		"new_constitution": "NewConstitution", "info": "InfoAction"}[kind]
}

func (e *expected) expectCert(net network, where, h, slot string, c *Cert, txID string) error {
	where = fmt.Sprintf("%s cert #%d (%s)", where, c.Index, c.Kind)
	idx := dec(c.Index)
	stake := func() (string, error) { return e.stake(where, c.Credential, net) }
	reg := func() error {
		v, err := stake()
		if err != nil {
			return err
		}
		return e.add("stake_registration", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "stake_address", v)
	}
	deleg := func() error {
		v, err := stake()
		if err != nil {
			return err
		}
		p, err := e.pool(where, c.PoolHash)
		if err != nil {
			return err
		}
		return e.add("delegation", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "stake_address", v, "pool_hash", p, "tx_id", txID)
	}
	vote := func() error {
		v, err := stake()
		if err != nil {
			return err
		}
		return e.add("delegation_vote", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "stake_address", v)
	}
	all := func(fs ...func() error) error {
		for _, f := range fs {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	switch c.Kind {
	case "stake_registration", "reg":
		return reg()
	case "stake_deregistration", "unreg":
		v, err := stake()
		if err != nil {
			return err
		}
		return e.add("stake_deregistration", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "stake_address", v)
	case "stake_delegation":
		return deleg()
	case "vote_deleg":
		return vote()
	case "stake_vote_deleg":
		return all(deleg, vote)
	case "stake_reg_deleg":
		return all(reg, deleg)
	case "vote_reg_deleg":
		return all(reg, vote)
	case "stake_vote_reg_deleg":
		return all(reg, deleg, vote)
	case "pool_registration":
		return e.expectPool(net, where, h, slot, idx, c.Pool)
	case "pool_retirement":
		p, err := e.pool(where, c.PoolHash)
		if err != nil {
			return err
		}
		return e.add("pool_retire", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "pool_hash", p, "retiring_epoch", decU(c.RetireEpoch))
	case "move_instantaneous_rewards":
		if c.MIR.ToOtherPot != nil {
			reserves, treasury := "0", "0"
			if c.MIR.Pot == "reserves" {
				reserves = decU(*c.MIR.ToOtherPot)
			} else {
				treasury = decU(*c.MIR.ToOtherPot)
			}
			return e.add("pot_transfer", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "reserves", reserves, "treasury", treasury)
		}
		tab := "reserve"
		if c.MIR.Pot == "treasury" {
			tab = "treasury"
		}
		for _, t := range c.MIR.Targets {
			v, err := e.stake(where, &t.Credential, net)
			if err != nil {
				return err
			}
			if err := e.add(tab, where, "tx_hash", h, "cert_index", idx, "stake_address", v, "slot_no", slot, "amount", dec(t.Amount)); err != nil {
				return err
			}
		}
		return nil
	case "reg_drep", "unreg_drep", "update_drep":
		deposit := optU(c.Deposit)
		if c.Kind == "unreg_drep" && c.Deposit != nil {
			deposit = "-" + deposit // db-sync: a deregistration is a registration row with the refund as a negative deposit
		}
		if c.Kind == "update_drep" {
			deposit = null
		}
		url, hash := null, null
		if c.Anchor != nil {
			url, hash = c.Anchor.URL, hx(c.Anchor.Hash)
		}
		return e.add("drep_registration", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "deposit", deposit,
			"voting_anchor_url", url, "voting_anchor_hash", hash)
	case "auth_committee_hot":
		return e.add("committee_registration", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "cold_key", hx(c.Credential.Hash),
			"cold_key_is_script", flag(c.Credential.Script), "hot_key", hx(c.HotCredential.Hash), "hot_key_is_script", flag(c.HotCredential.Script))
	case "resign_committee_cold":
		return e.add("committee_deregistration", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "cold_key", hx(c.Credential.Hash),
			"cold_key_is_script", flag(c.Credential.Script))
	case "genesis_key_delegation":
		return nil // not in the shipped data (the reference test lists what it cannot check)
	}
	return fmt.Errorf("%s: certificate kind %q has no expectation", where, c.Kind)
}

func (e *expected) expectPool(net network, where, h, slot, idx string, p *PoolParams) error {
	pool, err := e.pool(where, p.Operator)
	if err != nil {
		return err
	}
	if err := e.add("pool_update", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "pool_hash", pool,
		"vrf_key_hash", hx(p.VRFKeyHash), "pledge", decU(p.Pledge), "cost", decU(p.Cost),
		"margin_numerator", decU(p.MarginNum), "margin_denominator", decU(p.MarginDen)); err != nil {
		return err
	}
	for _, o := range p.Owners {
		// The owner's reward address on this chain (db-sync's pool_owner.addr_id).
		owner, err := e.stake(where, &Credential{Hash: o}, net)
		if err != nil {
			return err
		}
		if err := e.add("pool_owner", where, "tx_hash", h, "cert_index", idx, "owner", hx(o), "slot_no", slot, "stake_address", owner); err != nil {
			return err
		}
	}
	for i, r := range p.Relays {
		if !relayNames[r.Kind] {
			return fmt.Errorf("%s: relay kind %q", where, r.Kind)
		}
		ipv4, ipv6, dnsName, srvName, port := null, null, null, null, optU(r.Port)
		if r.IPv4 != nil {
			a, _ := netip.AddrFromSlice(r.IPv4)
			ipv4 = a.String()
		}
		if r.IPv6 != nil {
			ipv6 = ipv6Text(r.IPv6)
		}
		switch r.Kind {
		case "single_host_name":
			dnsName = r.DNSName
		case "multi_host_name":
			srvName = r.DNSName
		}
		if err := e.add("pool_relay", where, "tx_hash", h, "cert_index", idx, "relay_index", dec(i), "slot_no", slot,
			"ipv4", ipv4, "ipv6", ipv6, "dns_name", dnsName, "dns_srv_name", srvName, "port", port); err != nil {
			return err
		}
	}
	if p.Metadata != nil {
		if err := e.add("pool_metadata_ref", where, "tx_hash", h, "cert_index", idx, "slot_no", slot, "pool_hash", pool,
			"url", p.Metadata.URL, "hash", hx(p.Metadata.Hash)); err != nil {
			return err
		}
	}
	return nil
}

// ipv6Text renders a relay's IPv6 bytes. The ledger stores the address as
// four 32-bit words, each little-endian (the ledger's and db-sync's
// reading); the text is the usual IPv6 notation of the address in network order.
func ipv6Text(b []byte) string {
	if len(b) != 16 {
		return hx(b)
	}
	var a [16]byte
	for w := range 4 {
		for i := range 4 {
			a[4*w+i] = b[4*w+3-i]
		}
	}
	return netip.AddrFrom16(a).String()
}

// sortedKeys lists a table's expected keys in order, for stable messages.
func (t *table) sortedKeys() []string {
	keys := make([]string, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cborUint is the shortest CBOR encoding of an unsigned integer (major type 0).
func cborUint(v uint64) []byte {
	switch {
	case v < 24:
		return []byte{byte(v)}
	case v <= 0xff:
		return []byte{24, byte(v)}
	case v <= 0xffff:
		return []byte{25, byte(v >> 8), byte(v)}
	case v <= 0xffffffff:
		return []byte{26, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return []byte{27, byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// expectFees adds the tx_fee view's rows once every block is read: the fee
// the ledger took. Shelley on, a valid transaction's declared fee; an invalid
// one's collateral (total_collateral when declared, else the collateral
// inputs' value minus the return); a Byron transaction's inputs' value minus
// its outputs'. Spent outputs are looked up among the outputs that exist
// (valid transactions' outputs, invalid ones' collateral returns) of every
// shipped block; where one is not shipped the fee is unknown (NULL).
func (e *expected) expectFees(blocks []*Block) error {
	value := map[string]uint64{}
	ref := func(h []byte, i uint64) string { return hx(h) + "#" + decU(i) }
	for _, b := range blocks {
		for _, tx := range b.Txs {
			if !tx.Valid {
				if r := tx.CollateralReturn; r != nil {
					value[ref(tx.Hash, uint64(r.Index))] = r.Lovelace
				}
				continue
			}
			for _, o := range tx.Outputs {
				value[ref(tx.Hash, uint64(o.Index))] = o.Lovelace
			}
		}
	}
	spent := func(ins []Input) (uint64, bool) {
		var sum uint64
		for _, in := range ins {
			v, ok := value[ref(in.TxHash, in.Index)]
			if !ok {
				return 0, false
			}
			sum += v
		}
		return sum, true
	}
	for _, b := range blocks {
		for _, tx := range b.Txs {
			where := fmt.Sprintf("block %x (slot %d) tx %x", b.Hash, b.Slot, tx.Hash)
			fee := null
			switch {
			case tx.Valid && tx.HasFee:
				fee = decU(tx.Fee)
			case !tx.Valid && tx.TotalCollateral != nil:
				fee = decU(*tx.TotalCollateral)
			default:
				ins, outs := tx.Inputs, tx.Outputs
				if !tx.Valid {
					ins, outs = tx.Collateral, nil
					if tx.CollateralReturn != nil {
						outs = []Output{*tx.CollateralReturn}
					}
				}
				if in, ok := spent(ins); ok {
					var out uint64
					for _, o := range outs {
						out += o.Lovelace
					}
					fee = dec(int64(in) - int64(out))
				}
			}
			if err := e.add("tx_fee", where, "tx_hash", hx(tx.Hash), "fee", fee); err != nil {
				return err
			}
		}
	}
	return nil
}

// expectRedeemerLinks records which redeemer validates each withdrawal and
// certificate row of a valid transaction: a reward redeemer the index-th
// withdrawal (rewardAccounts' order), when its account is a script's; a cert
// redeemer every row of the certificate at its index.
func (e *expected) expectRedeemerLinks(h string, tx *Tx) {
	accts := rewardAccounts(tx)
	for _, r := range tx.Redeemers {
		link := r.Purpose + "|" + decU(r.Index)
		switch r.Purpose {
		case "reward":
			if r.Index < uint64(len(accts)) && accts[r.Index][0]&0x10 != 0 {
				e.redeemers["withdrawal"][h+"|"+rewardText(accts[r.Index])] = link
			}
		case "cert":
			for _, t := range redeemerTables[1:] {
				k := h + "|" + decU(r.Index)
				if _, ok := e.tables[t].rows[k]; ok {
					e.redeemers[t][k] = link
				}
			}
		}
	}
}

// rewardAccounts are a transaction's withdrawals' reward accounts in the
// ledger's order, which reward redeemers' indexes count in: script
// credentials first, each kind by hash.
func rewardAccounts(tx *Tx) [][]byte {
	var accts [][]byte
	for _, w := range tx.Withdrawals {
		accts = append(accts, w.RewardAccount)
	}
	sort.Slice(accts, func(i, j int) bool {
		si, sj := accts[i][0]&0x10 != 0, accts[j][0]&0x10 != 0
		if si != sj {
			return si
		}
		return string(accts[i][1:]) < string(accts[j][1:])
	})
	return accts
}

// redeemerTarget is what a redeemer's pointer names, read the ledger's way:
// its index counts into a sorted set. spend: the index-th input in (hash,
// index) order, as the output it spends (its script is the spent address's
// credential: the views resolve it); mint: the index-th policy in byte
// order; reward: the index-th withdrawal, reward accounts ordered script
// credentials first, each by hash; cert: the certificate's credential;
// voting: voters ordered committee, DRep, pool, scripts before keys, by
// hash. proposing: the action's guardrails script, which the reference
// does not read (any value).
func redeemerTarget(tx *Tx, r Redeemer) (script, outHash, outIndex string) {
	script, outHash, outIndex = null, null, null
	switch r.Purpose {
	case "spend":
		if r.Index < uint64(len(tx.Inputs)) { // tx.Inputs is sorted
			in := tx.Inputs[r.Index]
			return null, hx(in.TxHash), decU(in.Index)
		}
	case "mint":
		set := map[string]bool{}
		for _, m := range tx.Mint {
			set[string(m.Policy)] = true
		}
		var ps []string
		for p := range set {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		if r.Index < uint64(len(ps)) {
			return hx([]byte(ps[r.Index])), null, null
		}
	case "reward":
		accts := rewardAccounts(tx)
		if r.Index < uint64(len(accts)) && accts[r.Index][0]&0x10 != 0 {
			return hx(accts[r.Index][1:]), null, null
		}
	case "cert":
		if r.Index < uint64(len(tx.Certs)) {
			if c := tx.Certs[r.Index].Credential; c != nil && c.Script {
				return hx(c.Hash), null, null
			}
		}
	case "voting":
		rank := map[string]int{"cc_hot_script": 0, "cc_hot_key": 1, "drep_script": 2, "drep_key": 3, "spo": 4}
		type voter struct {
			rank int
			hash string
		}
		set := map[voter]bool{}
		for _, v := range tx.Votes {
			set[voter{rank[v.VoterKind], string(v.VoterHash)}] = true
		}
		var vs []voter
		for v := range set {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool {
			if vs[i].rank != vs[j].rank {
				return vs[i].rank < vs[j].rank
			}
			return vs[i].hash < vs[j].hash
		})
		if r.Index < uint64(len(vs)) && (vs[r.Index].rank == 0 || vs[r.Index].rank == 2) {
			return hx([]byte(vs[r.Index].hash)), null, null
		}
	case "proposing":
		return anyValue, null, null
	}
	return script, outHash, outIndex
}
