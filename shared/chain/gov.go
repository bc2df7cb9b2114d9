package chain

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// Views of the two predefined DReps in drep_hash (their raw hash is NULL).
const (
	DrepAlwaysAbstain      = "drep_always_abstain"
	DrepAlwaysNoConfidence = "drep_always_no_confidence"
)

// Voter roles and votes as voting_procedure stores them.
var (
	voterRoles = [...]string{
		common.VoterTypeConstitutionalCommitteeHotKeyHash:    "ConstitutionalCommittee",
		common.VoterTypeConstitutionalCommitteeHotScriptHash: "ConstitutionalCommittee",
		common.VoterTypeDRepKeyHash:                          "DRep",
		common.VoterTypeDRepScriptHash:                       "DRep",
		common.VoterTypeStakingPoolKeyHash:                   "SPO",
	}
	voteNames = [...]string{common.GovVoteNo: "No", common.GovVoteYes: "Yes", common.GovVoteAbstain: "Abstain"}
)

// governance adds Conway voting procedures and proposal procedures.
func (c *txCtx) governance() error {
	if err := c.votes(); err != nil {
		return err
	}
	for i, p := range c.body.ProposalProcedures() {
		if err := c.proposal(uint64(i), p); err != nil {
			return fmt.Errorf("proposal %d: %w", i, err)
		}
	}
	return nil
}

// votes adds one voting_procedure row per (voter, governance action). DRep
// voters are recorded in drep_hash and pool voters in pool_hash.
func (c *txCtx) votes() error {
	type vote struct {
		voter  *common.Voter
		action *common.GovActionId
		vp     common.VotingProcedure
	}
	var all []vote
	for voter, actions := range c.body.VotingProcedures() {
		if voter == nil {
			return fmt.Errorf("voting procedure without a voter")
		}
		for action, vp := range actions {
			if action == nil {
				return fmt.Errorf("voting procedure without a governance action")
			}
			all = append(all, vote{voter, action, vp})
		}
	}
	// Map order is random: sort so the rows come out the same every time.
	slices.SortFunc(all, func(a, b vote) int {
		return cmp.Or(
			cmp.Compare(a.voter.Type, b.voter.Type),
			bytes.Compare(a.voter.Hash[:], b.voter.Hash[:]),
			bytes.Compare(a.action.TransactionId[:], b.action.TransactionId[:]),
			cmp.Compare(a.action.GovActionIdx, b.action.GovActionIdx),
		)
	})
	for _, v := range all {
		if int(v.voter.Type) >= len(voterRoles) {
			return fmt.Errorf("voting procedure: unknown voter type %d", v.voter.Type)
		}
		if int(v.vp.Vote) >= len(voteNames) {
			return fmt.Errorf("voting procedure: unknown vote %d", v.vp.Vote)
		}
		hash := slices.Clone(v.voter.Hash[:])
		isScript := false
		// A DRep voter is named by its drep_hash row too (db-sync's
		// voting_procedure.drep_voter), so that a DRep's votes are an index
		// lookup by that row's id.
		var drepVoter any
		switch v.voter.Type {
		case common.VoterTypeConstitutionalCommitteeHotScriptHash:
			isScript = true
		case common.VoterTypeDRepKeyHash:
			drepVoter = c.drep(common.Drep{Type: common.DrepTypeAddrKeyHash, Credential: hash})
		case common.VoterTypeDRepScriptHash:
			isScript = true
			drepVoter = c.drep(common.Drep{Type: common.DrepTypeScriptHash, Credential: hash})
		case common.VoterTypeStakingPoolKeyHash:
			c.poolHash(common.NewBlake2b224(hash))
		}
		url, anchorHash := c.optionalAnchor(v.vp.Anchor)
		c.add(VotingProcedure, c.hashV(), voterRoles[v.voter.Type], hash,
			slices.Clone(v.action.TransactionId[:]), uint64(v.action.GovActionIdx), c.slotV(),
			isScript, voteNames[v.vp.Vote], url, anchorHash, drepVoter)
	}
	return nil
}

// proposal adds one gov_action_proposal row. Its description is the action
// as JSON: {"tag": <type>, "contents": <the action's fields>} (see toJSON).
func (c *txCtx) proposal(idx uint64, p common.ProposalProcedure) error {
	action := p.GovAction()
	name, prev, err := govActionInfo(action)
	if err != nil {
		return err
	}
	contents, err := toJSON(action)
	if err != nil {
		return fmt.Errorf("describe %s: %w", name, err)
	}
	ra := p.RewardAccount()
	cred, err := ra.RewardAccountCredential()
	if err != nil {
		return fmt.Errorf("return address: %w", err)
	}
	returnAddr := c.stakeAddressFromBytes(cred, &ra)
	var prevHash, prevIndex any
	if prev != nil {
		prevHash, prevIndex = slices.Clone(prev.TransactionId[:]), uint64(prev.GovActionIdx)
	}
	anchor := p.Anchor()
	anchorHash := slices.Clone(anchor.DataHash[:])
	c.anchor(anchor.Url, anchorHash)
	description := `{"tag":"` + name + `","contents":` + contents + `}`
	c.add(GovActionProposal, c.hashV(), idx, c.slotV(), strconv.FormatUint(p.Deposit(), 10), returnAddr,
		name, description, prevHash, prevIndex, anchor.Url, anchorHash)
	return nil
}

// govActionInfo returns the type name of a governance action and the
// previous action it builds on, if any.
func govActionInfo(a common.GovAction) (name string, prev *common.GovActionId, err error) {
	if rv := reflect.ValueOf(a); !rv.IsValid() || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
		return "", nil, fmt.Errorf("missing governance action")
	}
	switch x := a.(type) {
	case *common.HardForkInitiationGovAction:
		return "HardForkInitiation", x.ActionId, nil
	case *common.TreasuryWithdrawalGovAction:
		return "TreasuryWithdrawals", nil, nil
	case *common.NoConfidenceGovAction:
		return "NoConfidence", x.ActionId, nil
	case *common.UpdateCommitteeGovAction:
		return "NewCommittee", x.ActionId, nil
	case *common.NewConstitutionGovAction:
		return "NewConstitution", x.ActionId, nil
	case *common.InfoGovAction:
		return "InfoAction", nil, nil
	case common.ParameterChangeGovAction: // era-specific parameter update
		return "ParameterChange", x.PreviousGovActionId(), nil
	}
	return "", nil, fmt.Errorf("unsupported governance action %T", a)
}

// drep records a DRep in drep_hash and returns its view: the CIP-105 bech32
// id ("drep1..." for a key hash, "drep_script1..." for a script hash, of the
// 28-byte hash as db-sync shows them), or DrepAlwaysAbstain /
// DrepAlwaysNoConfidence, whose raw hash is NULL.
func (c *txCtx) drep(d common.Drep) string {
	var view string
	var raw any
	script := false
	switch d.Type {
	case common.DrepTypeAddrKeyHash:
		view = common.NewBlake2b224(d.Credential).Bech32("drep")
		raw = slices.Clone(d.Credential)
	case common.DrepTypeScriptHash:
		view = common.NewBlake2b224(d.Credential).Bech32("drep_script")
		raw, script = slices.Clone(d.Credential), true
	case common.DrepTypeAbstain:
		view = DrepAlwaysAbstain
	case common.DrepTypeNoConfidence:
		view = DrepAlwaysNoConfidence
	default:
		// The decoder rejects other types; keep whatever was given visible.
		view = "drep_unknown_" + strconv.Itoa(d.Type)
		raw = nullBytes(d.Credential)
	}
	c.add(DrepHash, view, raw, script, c.slotV())
	return view
}

// anchor records a governance anchor (shared voting_anchor row).
func (c *txCtx) anchor(url string, hash []byte) {
	c.add(VotingAnchor, url, notNullBytes(hash), c.slotV())
}

// maxJSONDepth bounds toJSON's recursion; ledger values nest a few levels.
const maxJSONDepth = 32

// toJSON renders a decoded ledger value (a governance action, a protocol
// parameter update) as deterministic, valid JSON:
//   - structs become objects with their exported fields in declaration order,
//     named in snake_case (MinFeeA → min_fee_a); embedded markers
//     (cbor.StructAsArray, DecodeStoreCbor) and nil fields are left out;
//   - maps become objects with keys sorted (credentials as
//     "keyHash-<hex>"/"scriptHash-<hex>", addresses as bech32);
//   - byte strings and hashes become hex strings, rationals "num/den"
//     strings (exact), integers numbers; a non-finite float is an error.
func toJSON(v any) (string, error) {
	b, err := appendJSON(nil, reflect.ValueOf(v), 0)
	if err != nil {
		return "", err
	}
	if !json.Valid(b) {
		return "", fmt.Errorf("rendered invalid json")
	}
	return string(b), nil
}

var (
	ratType        = reflect.TypeFor[cbor.Rat]()
	bigIntType     = reflect.TypeFor[big.Int]()
	addressType    = reflect.TypeFor[common.Address]()
	credentialType = reflect.TypeFor[common.Credential]()
)

func appendJSON(b []byte, v reflect.Value, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("value nested too deep")
	}
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		v = v.Elem()
	}
	if s, ok, err := scalarString(v); ok {
		if err != nil {
			return nil, err
		}
		return strconv.AppendQuote(b, s), nil
	}
	switch v.Type() {
	case ratType:
		r := v.Interface().(cbor.Rat)
		if r.Rat == nil {
			return append(b, "null"...), nil
		}
		return strconv.AppendQuote(b, r.Num().String()+"/"+r.Denom().String()), nil
	case bigIntType:
		n := v.Interface().(big.Int)
		return n.Append(b, 10), nil
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("non-finite number %v", f)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	case reflect.String:
		return appendJSONString(b, v.String()), nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			raw := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(raw), v)
			return strconv.AppendQuote(b, hex.EncodeToString(raw)), nil
		}
		if v.Kind() == reflect.Slice && v.IsNil() {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, v.Index(i), depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		return appendJSONMap(b, v, depth)
	case reflect.Struct:
		return appendJSONStruct(b, v, depth)
	}
	return nil, fmt.Errorf("cannot render %s as json", v.Type())
}

// scalarString renders values that JSON shows as one string (also as map keys).
func scalarString(v reflect.Value) (string, bool, error) {
	switch v.Type() {
	case addressType:
		return v.Interface().(common.Address).String(), true, nil
	case credentialType:
		cred := v.Interface().(common.Credential)
		switch cred.CredType {
		case common.CredentialTypeAddrKeyHash:
			return "keyHash-" + hex.EncodeToString(cred.Credential[:]), true, nil
		case common.CredentialTypeScriptHash:
			return "scriptHash-" + hex.EncodeToString(cred.Credential[:]), true, nil
		}
		return "", true, fmt.Errorf("unknown credential type %d", cred.CredType)
	}
	return "", false, nil
}

func appendJSONMap(b []byte, v reflect.Value, depth int) ([]byte, error) {
	if v.IsNil() {
		return append(b, "null"...), nil
	}
	type entry struct {
		key string
		num *big.Int // integer keys sort by value
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k, err := mapKey(iter.Key())
		if err != nil {
			return nil, err
		}
		e := entry{key: k, val: iter.Value()}
		if n, ok := new(big.Int).SetString(k, 10); ok && isIntKind(v.Type().Key().Kind()) {
			e.num = n
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(x, y entry) int {
		if x.num != nil && y.num != nil {
			return x.num.Cmp(y.num)
		}
		return strings.Compare(x.key, y.key)
	})
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.key)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, e.val, depth+1); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func mapKey(k reflect.Value) (string, error) {
	for k.Kind() == reflect.Pointer || k.Kind() == reflect.Interface {
		if k.IsNil() {
			return "", fmt.Errorf("map has a nil key")
		}
		k = k.Elem()
	}
	if s, ok, err := scalarString(k); ok {
		return s, err
	}
	switch k.Kind() {
	case reflect.String:
		return k.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(k.Uint(), 10), nil
	case reflect.Array:
		if k.Type().Elem().Kind() == reflect.Uint8 {
			raw := make([]byte, k.Len())
			reflect.Copy(reflect.ValueOf(raw), k)
			return hex.EncodeToString(raw), nil
		}
	}
	return "", fmt.Errorf("cannot render map key %s", k.Type())
}

func appendJSONStruct(b []byte, v reflect.Value, depth int) ([]byte, error) {
	t := v.Type()
	b = append(b, '{')
	first := true
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
			if fv.IsNil() {
				continue
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, snakeCase(f.Name))
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, fv, depth+1); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return append(b, '}'), nil
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// snakeCase turns a Go field name into snake_case: MinFeeA → min_fee_a,
// NOpt → n_opt, DRepDeposit → drep_deposit, A0 → a0.
func snakeCase(name string) string {
	name = strings.ReplaceAll(name, "DRep", "Drep")
	rs := []rune(name)
	var sb strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				sb.WriteByte('_')
			}
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}
