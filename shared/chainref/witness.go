package chainref

import (
	"fmt"
	"slices"
)

// witnessKeys lists the witness set keys each era's CDDL allows: 0 vkey
// witnesses, 1 native scripts, 2 bootstrap witnesses, 3 Plutus V1 scripts,
// 4 Plutus data, 5 redeemers, 6 Plutus V2 scripts, 7 Plutus V3 scripts.
var witnessKeys = map[string][]uint64{
	Shelley: {0, 1, 2},
	Allegra: {0, 1, 2},
	Mary:    {0, 1, 2},
	Alonzo:  {0, 1, 2, 3, 4, 5},
	Babbage: {0, 1, 2, 3, 4, 5, 6},
	Conway:  {0, 1, 2, 3, 4, 5, 6, 7},
}

// plutusWitness maps a witness set key to a Plutus script type and its hash tag.
var plutusWitness = map[uint64]struct {
	typ string
	tag byte
}{3: {ScriptPlutusV1, 1}, 6: {ScriptPlutusV2, 2}, 7: {ScriptPlutusV3, 3}}

func nativeType(era string) string {
	if era == Shelley {
		return ScriptMultisig
	}
	return ScriptTimelock
}

func nativeScript(era, from string, raw []byte) (Script, error) {
	f, err := items(raw)
	if err != nil || len(f) == 0 {
		return Script{}, fmt.Errorf("bad native script %x", raw)
	}
	if t, err := uintOf(f[0]); err != nil || t > 5 || (era == Shelley && t > 3) {
		return Script{}, fmt.Errorf("bad native script tag %x", f[0])
	}
	return Script{Hash: Blake2b224([]byte{0}, raw), Type: nativeType(era), Bytes: raw, From: from}, nil
}

func plutusScript(typ string, tag byte, from string, raw []byte) (Script, error) {
	b, err := bytesOf(raw)
	if err != nil {
		return Script{}, err
	}
	return Script{Hash: Blake2b224([]byte{tag}, b), Type: typ, Bytes: b, From: from}, nil
}

// readScript reads script = [0, native_script] / [1, bytes] / [2, bytes] / [3, bytes].
func readScript(era string, raw []byte) (Script, error) {
	f, err := array(raw, 2)
	if err != nil {
		return Script{}, err
	}
	lang, err := uintOf(f[0])
	if err != nil || lang > 3 {
		return Script{}, fmt.Errorf("bad script language %x", f[0])
	}
	if lang == 0 {
		return nativeScript(era, "", f[1])
	}
	return plutusScript([...]string{"", ScriptPlutusV1, ScriptPlutusV2, ScriptPlutusV3}[lang], byte(lang), "", f[1])
}

// readWitnesses reads the transaction witness set.
func (tx *Tx) readWitnesses(era string) error {
	ps, err := pairs(tx.Witnesses)
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	for _, p := range ps {
		k, err := uintOf(p.k)
		if err != nil || !slices.Contains(witnessKeys[era], k) || seen[k] {
			return fmt.Errorf("bad or repeated witness key %x", p.k)
		}
		seen[k] = true
		if k == 5 {
			if err := tx.readRedeemers(p.v); err != nil {
				return fmt.Errorf("redeemers: %w", err)
			}
			continue
		}
		xs, err := setItems(p.v)
		if err != nil {
			return fmt.Errorf("key %d: %w", k, err)
		}
		for i, x := range xs {
			var err error
			switch k {
			case 0:
				_, err = array(x, 2)
				tx.VKeyWitnesses++
			case 2:
				_, err = array(x, 4)
				tx.BootstrapWitnesses++
			case 1:
				var s Script
				if s, err = nativeScript(era, FromWitness, x); err == nil {
					tx.Scripts = append(tx.Scripts, s)
				}
			case 3, 6, 7:
				var s Script
				pw := plutusWitness[k]
				if s, err = plutusScript(pw.typ, pw.tag, FromWitness, x); err == nil {
					tx.Scripts = append(tx.Scripts, s)
				}
			case 4:
				tx.Datums = append(tx.Datums, Datum{Hash: Blake2b256(x), Bytes: x})
			}
			if err != nil {
				return fmt.Errorf("key %d element %d: %w", k, i, err)
			}
		}
	}
	return nil
}

// readRedeemers reads redeemers: Alonzo's [* [tag, index, data, ex_units]]
// or Conway's {+ [tag, index] => [data, ex_units]}, ex_units = [mem, steps].
func (tx *Tx) readRedeemers(v []byte) error {
	major, _, _, _, err := head(v)
	if err != nil {
		return err
	}
	add := func(ptr [][]byte, data, units []byte) error {
		var r Redeemer
		var err error
		if r.Tag, err = uintOf(ptr[0]); err != nil || r.Tag >= uint64(len(redeemerPurposes)) {
			return fmt.Errorf("bad redeemer tag %x", ptr[0])
		}
		r.Purpose = redeemerPurposes[r.Tag]
		if r.Index, err = uintOf(ptr[1]); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		r.Data, r.DataHash = data, Blake2b256(data)
		u, err := array(units, 2)
		if err != nil {
			return fmt.Errorf("ex units: %w", err)
		}
		if r.Mem, err = uintOf(u[0]); err != nil {
			return fmt.Errorf("mem: %w", err)
		}
		if r.Steps, err = uintOf(u[1]); err != nil {
			return fmt.Errorf("steps: %w", err)
		}
		tx.Redeemers = append(tx.Redeemers, r)
		return nil
	}
	if major == majorMap {
		tx.RedeemersAsMap = true
		ps, err := pairs(v)
		if err != nil {
			return err
		}
		for i, p := range ps {
			k, err := array(p.k, 2)
			if err != nil {
				return fmt.Errorf("redeemer %d key: %w", i, err)
			}
			val, err := array(p.v, 2)
			if err != nil {
				return fmt.Errorf("redeemer %d value: %w", i, err)
			}
			if err := add(k, val[0], val[1]); err != nil {
				return fmt.Errorf("redeemer %d: %w", i, err)
			}
		}
		return nil
	}
	xs, err := items(v)
	if err != nil {
		return err
	}
	for i, x := range xs {
		f, err := array(x, 4)
		if err != nil {
			return fmt.Errorf("redeemer %d: %w", i, err)
		}
		if err := add(f[:2], f[2], f[3]); err != nil {
			return fmt.Errorf("redeemer %d: %w", i, err)
		}
	}
	return nil
}

// readAuxData reads auxiliary_data:
//
//	metadata                                          (Shelley on)
//	[metadata, [* native_script]]                     (Allegra on)
//	#6.259({? 0: metadata, ? 1: [* native_script],
//	        ? 2: [* plutus_v1], ? 3: [* plutus_v2], ? 4: [* plutus_v3]})  (Alonzo on)
func (tx *Tx) readAuxData(era string) error {
	v := tx.AuxData
	if t, content, ok := tagged(v); ok {
		if t != tagAuxData || !atLeast(era, Alonzo) {
			return fmt.Errorf("unexpected tag %d", t)
		}
		ps, err := pairs(content)
		if err != nil {
			return err
		}
		seen := map[uint64]bool{}
		for _, p := range ps {
			k, err := uintOf(p.k)
			if err != nil || k > 4 || seen[k] || (k == 4 && era != Conway) || (k == 3 && !atLeast(era, Babbage)) {
				return fmt.Errorf("bad or repeated auxiliary data key %x", p.k)
			}
			seen[k] = true
			if k == 0 {
				if err := tx.readMetadata(p.v); err != nil {
					return err
				}
				continue
			}
			xs, err := items(p.v)
			if err != nil {
				return fmt.Errorf("key %d: %w", k, err)
			}
			for i, x := range xs {
				var s Script
				if k == 1 {
					s, err = nativeScript(era, FromAuxData, x)
				} else {
					s, err = plutusScript([...]string{"", "", ScriptPlutusV1, ScriptPlutusV2, ScriptPlutusV3}[k], byte(k-1), FromAuxData, x)
				}
				if err != nil {
					return fmt.Errorf("key %d script %d: %w", k, i, err)
				}
				tx.Scripts = append(tx.Scripts, s)
			}
		}
		return nil
	}
	major, _, _, _, err := head(v)
	if err != nil {
		return err
	}
	if major == majorMap {
		return tx.readMetadata(v)
	}
	if !atLeast(era, Allegra) {
		return fmt.Errorf("auxiliary data is not a metadata map")
	}
	f, err := array(v, 2)
	if err != nil {
		return err
	}
	if err := tx.readMetadata(f[0]); err != nil {
		return err
	}
	xs, err := items(f[1])
	if err != nil {
		return fmt.Errorf("auxiliary scripts: %w", err)
	}
	for i, x := range xs {
		s, err := nativeScript(era, FromAuxData, x)
		if err != nil {
			return fmt.Errorf("auxiliary script %d: %w", i, err)
		}
		tx.Scripts = append(tx.Scripts, s)
	}
	return nil
}

// readMetadata reads metadata = {* uint => transaction_metadatum}, keeping
// every label as encoded (repeats included) with its value's bytes.
func (tx *Tx) readMetadata(v []byte) error {
	ps, err := pairs(v)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	tx.HasMetadataMap = true
	for _, p := range ps {
		label, err := uintOf(p.k)
		if err != nil {
			return fmt.Errorf("metadata label: %w", err)
		}
		tx.Metadata = append(tx.Metadata, Metadatum{Label: label, Value: p.v})
	}
	return nil
}
