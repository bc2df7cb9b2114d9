package chain

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/blinklabs-io/gouroboros/ledger/common"
	"golang.org/x/crypto/blake2b"
)

// redeemerPurposes names a redeemer tag as db-sync's redeemer.purpose does.
var redeemerPurposes = map[common.RedeemerTag]string{
	common.RedeemerTagSpend:     "spend",
	common.RedeemerTagMint:      "mint",
	common.RedeemerTagCert:      "cert",
	common.RedeemerTagReward:    "reward",
	common.RedeemerTagVoting:    "voting",
	common.RedeemerTagProposing: "proposing",
}

// Script types as db-sync's script.type names them.
const (
	scriptTypeTimelock = "timelock"
	scriptTypePlutusV1 = "plutusV1"
	scriptTypePlutusV2 = "plutusV2"
	scriptTypePlutusV3 = "plutusV3"
	scriptTypePlutusV4 = "plutusV4"
)

// witnesses adds datums, redeemers, scripts and required signers.
//
// Witness sets are sets, but byte-identical datums and scripts do repeat
// inside one transaction on mainnet: their rows are keyed by hash, so the
// repeats collapse when the block's rows are deduplicated.
func (c *txCtx) witnesses() error {
	if w := c.witnessesOf(); w != nil {
		for _, d := range w.PlutusData() {
			c.addDatum(&d)
		}
		if err := c.redeemers(w.Redeemers()); err != nil {
			return err
		}
		for _, s := range w.NativeScripts() {
			c.addScript(s)
		}
		for _, s := range w.PlutusV1Scripts() {
			c.addScript(s)
		}
		for _, s := range w.PlutusV2Scripts() {
			c.addScript(s)
		}
		for _, s := range w.PlutusV3Scripts() {
			c.addScript(s)
		}
	}
	for _, h := range c.body.RequiredSigners() {
		c.add(ExtraKeyWitness, c.hashV(), h.Bytes(), c.slotV())
	}
	return c.auxScripts()
}

// auxScripts adds the scripts carried in the transaction's auxiliary data
// (Allegra and Mary: native scripts; Alonzo on: Plutus too), which db-sync
// stores in script as well.
func (c *txCtx) auxScripts() error {
	a := c.tx.AuxiliaryData()
	if a == nil {
		return nil
	}
	native, err := a.NativeScripts()
	if err != nil {
		return fmt.Errorf("auxiliary data: native scripts: %w", err)
	}
	for _, s := range native {
		c.addScript(s)
	}
	v1, err := a.PlutusV1Scripts()
	if err != nil {
		return fmt.Errorf("auxiliary data: Plutus V1 scripts: %w", err)
	}
	for _, s := range v1 {
		c.addScript(s)
	}
	v2, err := a.PlutusV2Scripts()
	if err != nil {
		return fmt.Errorf("auxiliary data: Plutus V2 scripts: %w", err)
	}
	for _, s := range v2 {
		c.addScript(s)
	}
	v3, err := a.PlutusV3Scripts()
	if err != nil {
		return fmt.Errorf("auxiliary data: Plutus V3 scripts: %w", err)
	}
	for _, s := range v3 {
		c.addScript(s)
	}
	return nil
}

// redeemers adds one row per (purpose, index). A legacy list with a repeated
// key yields only its last entry, as the ledger's map does.
func (c *txCtx) redeemers(rs common.TransactionWitnessRedeemers) error {
	if rs == nil {
		return nil
	}
	for key, val := range rs.Iter() {
		purpose, ok := redeemerPurposes[key.Tag]
		if !ok {
			return fmt.Errorf("redeemer %d/%d: unknown tag", key.Tag, key.Index)
		}
		if val.ExUnits.Memory < 0 || val.ExUnits.Steps < 0 {
			return fmt.Errorf("redeemer %s/%d: negative execution units", purpose, key.Index)
		}
		data, err := datumCbor(&val.Data)
		if err != nil {
			return fmt.Errorf("redeemer %s/%d data: %w", purpose, key.Index, err)
		}
		hash := blake2b.Sum256(data)
		script, outHash, outIndex := c.redeemerTarget(key.Tag, uint64(key.Index))
		c.add(Redeemer, c.hashV(), purpose, uint64(key.Index), c.slotV(),
			uint64(val.ExUnits.Memory), uint64(val.ExUnits.Steps), hash[:], data, script, outHash, outIndex)
	}
	return nil
}

// scriptSize is the total size of the Plutus scripts in the witness set
// (db-sync's tx.script_size): the ledger keeps witness scripts in a map by
// hash, so a script repeated in the set counts once.
func (c *txCtx) scriptSize() uint64 {
	w := c.witnessesOf()
	if w == nil {
		return 0
	}
	seen := map[common.ScriptHash]struct{}{}
	var total uint64
	add := func(s common.Script) {
		h := s.Hash()
		if _, dup := seen[h]; dup {
			return
		}
		seen[h] = struct{}{}
		total += uint64(len(s.RawScriptBytes()))
	}
	for _, s := range w.PlutusV1Scripts() {
		add(s)
	}
	for _, s := range w.PlutusV2Scripts() {
		add(s)
	}
	for _, s := range w.PlutusV3Scripts() {
		add(s)
	}
	return total
}

// addDatum records a datum (shared) and returns its hash: the Blake2b-256 of
// the datum's CBOR exactly as it appears on chain.
func (c *txCtx) addDatum(d *common.Datum) []byte {
	if d == nil {
		return nil
	}
	raw, err := datumCbor(d)
	if err != nil {
		return nil
	}
	h := blake2b.Sum256(raw)
	if _, seen := c.datums[h]; !seen {
		// A datum's row is its bytes': a repeat in the block would be dropped.
		if c.datums == nil {
			c.datums = map[[32]byte]struct{}{}
		}
		c.datums[h] = struct{}{}
		c.add(Datum, h[:], c.slotV(), raw)
	}
	return h[:]
}

// datumCbor returns a datum's original CBOR, or its encoding when it was not
// decoded from bytes.
func datumCbor(d *common.Datum) ([]byte, error) {
	if raw := d.Cbor(); len(raw) > 0 {
		return raw, nil
	}
	if d.Data == nil {
		return nil, errors.New("datum has neither bytes nor data")
	}
	raw, err := d.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("encode datum: %w", err)
	}
	return raw, nil
}

// addScript records a script (shared) and returns its ledger hash: Blake2b-224
// of the language tag followed by the script bytes (the native script's CBOR,
// or the Plutus script's flat-in-CBOR bytes). A native script's row has json
// and timelock_cbor; a Plutus script's has bytes and serialised_size.
func (c *txCtx) addScript(s common.Script) []byte {
	typ, ok := scriptType(s)
	if !ok {
		return nil
	}
	h := s.Hash()
	if _, seen := c.scripts[h]; seen {
		// A script's row is its hash's (of its type and bytes): a repeat in
		// the block would be dropped; its JSON is not rendered again.
		return h.Bytes()
	}
	if c.scripts == nil {
		c.scripts = map[common.ScriptHash]struct{}{}
	}
	c.scripts[h] = struct{}{}
	raw := s.RawScriptBytes()
	if typ == scriptTypeTimelock {
		// db-sync's columns: json for a native script, bytes and
		// serialised_size for Plutus only; Nectar keeps the CBOR too.
		var js any
		if j, err := timelockJSON(raw); err == nil {
			js = j
		}
		c.add(Script, h.Bytes(), typ, c.slotV(), js, nil, nil, raw)
		return h.Bytes()
	}
	c.add(Script, h.Bytes(), typ, c.slotV(), nil, uint64(len(raw)), raw, nil)
	return h.Bytes()
}

// scriptType names a script's type; ok is false for a nil or unknown script.
func scriptType(s common.Script) (typ string, ok bool) {
	switch x := s.(type) {
	case common.NativeScript:
		return scriptTypeTimelock, true
	case *common.NativeScript:
		return scriptTypeTimelock, x != nil
	case common.PlutusV1Script:
		return scriptTypePlutusV1, true
	case *common.PlutusV1Script:
		return scriptTypePlutusV1, x != nil
	case common.PlutusV2Script:
		return scriptTypePlutusV2, true
	case *common.PlutusV2Script:
		return scriptTypePlutusV2, x != nil
	case common.PlutusV3Script:
		return scriptTypePlutusV3, true
	case *common.PlutusV3Script:
		return scriptTypePlutusV3, x != nil
	case common.PlutusV4Script:
		return scriptTypePlutusV4, true
	case *common.PlutusV4Script:
		return scriptTypePlutusV4, x != nil
	}
	return "", false
}

// redeemerTarget finds what a redeemer's pointer names, as the ledger
// resolves it (its index counts into the sorted set the purpose names):
// spend, the index-th input in (tx hash, index) order, returned as the
// spent output (its script is its address's payment credential, which only
// the output knows: the db-sync views resolve it through tx_out); mint, the
// index-th policy in byte order; reward, the index-th withdrawal in the
// ledger's order of reward accounts (script credentials first, each kind by
// hash); cert, the index-th certificate's credential; voting, the index-th
// voter in the ledger's order (committee, DRep, pool; scripts before keys;
// by hash); proposing, the index-th proposal's policy (guardrails) script.
// The script hash is nil when the pointer names nothing that is a script.
func (c *txCtx) redeemerTarget(tag common.RedeemerTag, idx uint64) (script, outHash, outIndex any) {
	switch tag {
	case common.RedeemerTagSpend:
		if c.sortedInputs == nil {
			c.sortedInputs = slices.Clone(c.body.Inputs())
			slices.SortFunc(c.sortedInputs, func(a, b common.TransactionInput) int {
				ah, bh := a.Id(), b.Id()
				return cmp.Or(bytes.Compare(ah[:], bh[:]), cmp.Compare(a.Index(), b.Index()))
			})
		}
		ins := c.sortedInputs
		if idx < uint64(len(ins)) {
			h := ins[idx].Id()
			return nil, h.Bytes(), uint64(ins[idx].Index())
		}
	case common.RedeemerTagMint:
		if m := c.body.AssetMint(); m != nil {
			ps := m.Policies()
			slices.SortFunc(ps, func(a, b common.Blake2b224) int { return bytes.Compare(a[:], b[:]) })
			if idx < uint64(len(ps)) {
				return ps[idx].Bytes(), nil, nil
			}
		}
	case common.RedeemerTagReward:
		ws := c.sortedWithdrawals()
		if idx < uint64(len(ws)) && ws[idx].CredType == common.CredentialTypeScriptHash {
			return ws[idx].Credential.Bytes(), nil, nil
		}
	case common.RedeemerTagCert:
		certs := c.body.Certificates()
		if idx < uint64(len(certs)) {
			if cred, ok := certCredential(certs[idx]); ok && cred.CredType == common.CredentialTypeScriptHash {
				return cred.Credential.Bytes(), nil, nil
			}
		}
	case common.RedeemerTagVoting:
		type voter struct {
			rank int
			hash []byte
		}
		var vs []voter
		// The ledger's Voter order: committee, DRep, pool; a script
		// credential before a key one.
		rank := map[uint8]int{common.VoterTypeConstitutionalCommitteeHotScriptHash: 0, common.VoterTypeConstitutionalCommitteeHotKeyHash: 1,
			common.VoterTypeDRepScriptHash: 2, common.VoterTypeDRepKeyHash: 3, common.VoterTypeStakingPoolKeyHash: 4}
		for v := range c.body.VotingProcedures() {
			if v != nil {
				vs = append(vs, voter{rank[v.Type], slices.Clone(v.Hash[:])})
			}
		}
		slices.SortFunc(vs, func(a, b voter) int { return cmp.Or(cmp.Compare(a.rank, b.rank), bytes.Compare(a.hash, b.hash)) })
		if idx < uint64(len(vs)) && (vs[idx].rank == 0 || vs[idx].rank == 2) {
			return vs[idx].hash, nil, nil
		}
	case common.RedeemerTagProposing:
		ps := c.body.ProposalProcedures()
		if idx < uint64(len(ps)) {
			if a, ok := ps[idx].GovAction().(interface{ GetPolicyHash() []byte }); ok && len(a.GetPolicyHash()) > 0 {
				return slices.Clone(a.GetPolicyHash()), nil, nil
			}
		}
	}
	return nil, nil, nil
}

// sortedWithdrawals returns the withdrawals' credentials in the ledger's
// order of reward accounts: script credentials first, then key credentials,
// each by hash.
func (c *txCtx) sortedWithdrawals() []common.Credential {
	var out []common.Credential
	for addr := range c.body.Withdrawals() {
		if addr == nil {
			continue
		}
		if cred, err := addr.RewardAccountCredential(); err == nil {
			out = append(out, cred)
		}
	}
	slices.SortFunc(out, func(a, b common.Credential) int {
		as, bs := a.CredType == common.CredentialTypeScriptHash, b.CredType == common.CredentialTypeScriptHash
		if as != bs {
			if as {
				return -1
			}
			return 1
		}
		ah, bh := a.Credential.Bytes(), b.Credential.Bytes()
		return bytes.Compare(ah, bh)
	})
	return out
}

// certCredential is the credential that must witness a certificate.
func certCredential(cert common.Certificate) (common.Credential, bool) {
	switch x := cert.(type) {
	case *common.StakeRegistrationCertificate:
		return x.StakeCredential, true
	case *common.StakeDeregistrationCertificate:
		return x.StakeCredential, true
	case *common.StakeDelegationCertificate:
		if x.StakeCredential != nil {
			return *x.StakeCredential, true
		}
	case *common.RegistrationCertificate:
		return x.StakeCredential, true
	case *common.DeregistrationCertificate:
		return x.StakeCredential, true
	case *common.VoteDelegationCertificate:
		return x.StakeCredential, true
	case *common.StakeVoteDelegationCertificate:
		return x.StakeCredential, true
	case *common.StakeRegistrationDelegationCertificate:
		return x.StakeCredential, true
	case *common.VoteRegistrationDelegationCertificate:
		return x.StakeCredential, true
	case *common.StakeVoteRegistrationDelegationCertificate:
		return x.StakeCredential, true
	case *common.AuthCommitteeHotCertificate:
		return x.ColdCredential, true
	case *common.ResignCommitteeColdCertificate:
		return x.ColdCredential, true
	case *common.RegistrationDrepCertificate:
		return x.DrepCredential, true
	case *common.DeregistrationDrepCertificate:
		return x.DrepCredential, true
	case *common.UpdateDrepCertificate:
		return x.DrepCredential, true
	}
	return common.Credential{}, false
}
