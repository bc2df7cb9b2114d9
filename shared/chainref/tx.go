package chainref

import (
	"bytes"
	"fmt"
	"slices"
)

// bodyKeys lists the transaction body keys each era's CDDL allows.
var bodyKeys = map[string][]uint64{
	Shelley: {0, 1, 2, 3, 4, 5, 6, 7},
	Allegra: {0, 1, 2, 3, 4, 5, 6, 7, 8},
	Mary:    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	Alonzo:  {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15},
	Babbage: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 16, 17, 18},
	Conway:  {0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22},
}

// readBody reads a transaction body (a map keyed by small integers).
func (tx *Tx) readBody(era string) error {
	ps, err := pairs(tx.Body)
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	for _, p := range ps {
		k, err := uintOf(p.k)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		if !slices.Contains(bodyKeys[era], k) {
			return fmt.Errorf("key %d is not in the %s body", k, era)
		}
		if seen[k] {
			return fmt.Errorf("key %d twice", k)
		}
		seen[k] = true
		if err := tx.readBodyField(era, k, p.v); err != nil {
			return fmt.Errorf("key %d: %w", k, err)
		}
	}
	for _, k := range []uint64{0, 1, 2} {
		if !seen[k] {
			return fmt.Errorf("required key %d missing", k)
		}
	}
	if era == Shelley && !seen[3] {
		return fmt.Errorf("required key 3 (ttl) missing")
	}
	return nil
}

func (tx *Tx) readBodyField(era string, k uint64, v []byte) error {
	var err error
	switch k {
	case 0:
		tx.Inputs, err = readInputs(v)
	case 1:
		var outs [][]byte
		if outs, err = items(v); err != nil {
			return err
		}
		tx.Outputs = make([]Output, len(outs))
		for i, o := range outs {
			if err := tx.Outputs[i].read(era, i, o); err != nil {
				return fmt.Errorf("output %d: %w", i, err)
			}
		}
		if tx.CollateralReturn != nil {
			tx.CollateralReturn.Index = len(tx.Outputs)
		}
	case 2:
		tx.Fee, err = uintOf(v)
		tx.HasFee = err == nil
	case 3:
		tx.TTL, err = optUint(v)
	case 4:
		err = tx.readCerts(era, v)
	case 5:
		tx.Withdrawals, err = readWithdrawals(v)
	case 6:
		tx.Update = v
	case 7:
		tx.AuxDataHash, err = hashOf(v, 32)
	case 8:
		tx.ValidityStart, err = optUint(v)
	case 9:
		tx.Mint, err = readMint(v)
	case 11:
		tx.ScriptDataHash, err = hashOf(v, 32)
	case 13:
		tx.Collateral, err = readInputs(v)
	case 14:
		var signers [][]byte
		if signers, err = setItems(v); err != nil {
			return err
		}
		for _, s := range signers {
			h, err := hashOf(s, 28)
			if err != nil {
				return err
			}
			tx.RequiredSigners = append(tx.RequiredSigners, h)
		}
	case 15:
		tx.NetworkID, err = optUint(v)
	case 16:
		tx.CollateralReturn = &Output{}
		err = tx.CollateralReturn.read(era, len(tx.Outputs), v)
	case 17:
		tx.TotalCollateral, err = optUint(v)
	case 18:
		tx.ReferenceInputs, err = readInputs(v)
	case 19:
		tx.Votes, err = readVotes(v)
	case 20:
		tx.Proposals, err = readProposals(v)
	case 21:
		tx.TreasuryValue, err = optUint(v)
	case 22:
		tx.Donation, err = optUint(v)
	}
	return err
}

func optUint(v []byte) (*uint64, error) {
	n, err := uintOf(v)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// readInputs reads set<transaction_input>, transaction_input = [txid, index].
func readInputs(v []byte) ([]Input, error) {
	xs, err := setItems(v)
	if err != nil {
		return nil, err
	}
	out := make([]Input, 0, len(xs))
	for i, x := range xs {
		f, err := array(x, 2)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		var in Input
		if in.TxHash, err = hashOf(f[0], 32); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		if in.Index, err = uintOf(f[1]); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		out = append(out, in)
	}
	return inputSet(out), nil
}

// inputSet sorts inputs as the ledger's Set (TxIn) orders them, by
// transaction hash then index, and drops repeats.
func inputSet(in []Input) []Input {
	slices.SortFunc(in, compareInputs)
	return slices.CompactFunc(in, func(a, b Input) bool { return compareInputs(a, b) == 0 })
}

func compareInputs(a, b Input) int {
	if c := bytes.Compare(a.TxHash, b.TxHash); c != 0 {
		return c
	}
	switch {
	case a.Index < b.Index:
		return -1
	case a.Index > b.Index:
		return 1
	}
	return 0
}

// read reads one transaction output:
//
//	shelley, allegra:  [address, coin]
//	mary:              [address, value]
//	alonzo:            [address, value, ? datum_hash]
//	babbage, conway:   the alonzo array, or
//	                   {0: address, 1: value, ? 2: datum_option, ? 3: script_ref}
func (o *Output) read(era string, index int, raw []byte) error {
	*o = Output{Index: index, Raw: raw}
	major, _, _, _, err := head(raw)
	if err != nil {
		return err
	}
	if major == majorMap {
		if !atLeast(era, Babbage) {
			return fmt.Errorf("map output before Babbage")
		}
		o.MapFormat = true
		ps, err := pairs(raw)
		if err != nil {
			return err
		}
		seen := map[uint64]bool{}
		for _, p := range ps {
			k, err := uintOf(p.k)
			if err != nil || k > 3 || seen[k] {
				return fmt.Errorf("bad or repeated output key %x", p.k)
			}
			seen[k] = true
			switch k {
			case 0:
				o.Address, err = bytesOf(p.v)
			case 1:
				err = o.readValue(era, p.v)
			case 2:
				err = o.readDatumOption(p.v)
			case 3:
				err = o.readScriptRef(era, p.v)
			}
			if err != nil {
				return fmt.Errorf("output key %d: %w", k, err)
			}
		}
		if !seen[0] || !seen[1] {
			return fmt.Errorf("output without address or value")
		}
		return nil
	}
	hi := 2
	if atLeast(era, Alonzo) {
		hi = 3
	}
	f, err := arrayN(raw, 2, hi)
	if err != nil {
		return err
	}
	if o.Address, err = bytesOf(f[0]); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if err := o.readValue(era, f[1]); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if len(f) == 3 {
		if o.DatumHash, err = hashOf(f[2], 32); err != nil {
			return fmt.Errorf("datum hash: %w", err)
		}
	}
	return nil
}

// readValue reads value = coin / [coin, multiasset<uint>] (multi-assets from Mary on).
func (o *Output) readValue(era string, v []byte) error {
	major, _, _, _, err := head(v)
	if err != nil {
		return err
	}
	if major == majorUint {
		o.Lovelace, err = uintOf(v)
		return err
	}
	if !atLeast(era, Mary) {
		return fmt.Errorf("multi-asset value before Mary")
	}
	f, err := array(v, 2)
	if err != nil {
		return err
	}
	if o.Lovelace, err = uintOf(f[0]); err != nil {
		return fmt.Errorf("coin: %w", err)
	}
	return readMultiAsset(f[1], func(policy, name, q []byte) error {
		n, err := uintOf(q)
		if err != nil {
			return err
		}
		o.Assets = append(o.Assets, Asset{Policy: policy, Name: name, Quantity: n})
		return nil
	})
}

// readMultiAsset walks multiasset<a> = {* policy_id => {* asset_name => a}}.
func readMultiAsset(v []byte, f func(policy, name, quantity []byte) error) error {
	policies, err := pairs(v)
	if err != nil {
		return err
	}
	for _, p := range policies {
		policy, err := hashOf(p.k, 28)
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		names, err := pairs(p.v)
		if err != nil {
			return fmt.Errorf("policy %x: %w", policy, err)
		}
		for _, n := range names {
			name, err := bytesOf(n.k)
			if err != nil || len(name) > 32 {
				return fmt.Errorf("policy %x: bad asset name %x", policy, n.k)
			}
			if err := f(policy, name, n.v); err != nil {
				return fmt.Errorf("asset %x.%x: %w", policy, name, err)
			}
		}
	}
	return nil
}

// readDatumOption reads datum_option = [0, hash32] / [1, #6.24(bytes .cbor plutus_data)].
func (o *Output) readDatumOption(v []byte) error {
	f, err := array(v, 2)
	if err != nil {
		return err
	}
	kind, err := uintOf(f[0])
	if err != nil {
		return err
	}
	switch kind {
	case 0:
		o.DatumHash, err = hashOf(f[1], 32)
		return err
	case 1:
		if o.InlineDatum, err = encodedCBOR(f[1]); err != nil {
			return err
		}
		o.InlineDatumHash = Blake2b256(o.InlineDatum)
		return nil
	}
	return fmt.Errorf("datum option %d", kind)
}

// readScriptRef reads script_ref = #6.24(bytes .cbor script).
func (o *Output) readScriptRef(era string, v []byte) error {
	inner, err := encodedCBOR(v)
	if err != nil {
		return err
	}
	s, err := readScript(era, inner)
	if err != nil {
		return err
	}
	o.ScriptRef = inner
	s.From = FromOutputRef
	o.RefScript = &s
	return nil
}

// readWithdrawals reads withdrawals = {* reward_account => coin}.
func readWithdrawals(v []byte) ([]Withdrawal, error) {
	ps, err := pairs(v)
	if err != nil {
		return nil, err
	}
	out := make([]Withdrawal, 0, len(ps))
	for _, p := range ps {
		acct, err := bytesOf(p.k)
		if err != nil {
			return nil, fmt.Errorf("reward account: %w", err)
		}
		amt, err := uintOf(p.v)
		if err != nil {
			return nil, fmt.Errorf("amount: %w", err)
		}
		out = append(out, Withdrawal{RewardAccount: acct, Amount: amt})
	}
	return out, nil
}

// readMint reads mint = multiasset<int64>.
func readMint(v []byte) ([]Mint, error) {
	var out []Mint
	err := readMultiAsset(v, func(policy, name, q []byte) error {
		n, err := intOf(q)
		if err != nil {
			return err
		}
		out = append(out, Mint{Policy: policy, Name: name, Quantity: n})
		return nil
	})
	return out, err
}
