package chain

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
	"golang.org/x/crypto/blake2b"
)

// output adds one transaction output (to tx_out or collateral_tx_out) with its
// assets, inline datum and reference script.
func (c *txCtx) output(t TableID, index uint64, o common.TransactionOutput) error {
	a, err := c.outputAddress(o)
	if err != nil {
		return err
	}
	coin, entries, scanned := outputValue(o.Cbor(), c.assetEntries)
	var value any = "0"
	if scanned {
		c.assetEntries = entries[:0]
		value = decimalValU(coin)
	} else if a := o.Amount(); a != nil {
		value = decimal(a)
	}
	// data_hash is db-sync's: the datum hash of the output, for an inline
	// datum too (its hash); inline_datum_hash is set for inline datums only.
	var dataHash, inlineHash, refScript any
	if d := o.Datum(); d != nil {
		inlineHash = nullBytes(c.addDatum(d))
		dataHash = inlineHash
	} else if dh := o.DatumHash(); dh != nil && (*dh != (common.Blake2b256{}) || outputHasDatumHash(o.Cbor())) {
		// gouroboros gives a zero hash for an absent one: an all-zero hash
		// the output does carry is read from its bytes.
		dataHash = dh.Bytes()
	}
	if s := o.ScriptRef(); s != nil {
		refScript = nullBytes(c.addScript(s))
	}
	indexVal := any(index) // boxed once for the output's rows
	if t == CollateralTxOut {
		c.add(t, c.hashV(), indexVal, c.slotV(), a.view, a.raw, a.hasScript, a.paymentCred, a.stakeCred, a.stakeView,
			value, dataHash, inlineHash, refScript, assetsDescr(o.Assets()))
		return nil
	}
	c.add(t, c.hashV(), indexVal, c.slotV(), a.view, a.raw, a.hasScript, a.paymentCred, a.stakeCred, a.stakeView,
		value, dataHash, inlineHash, refScript)
	if scanned {
		var policyVal any
		for k, e := range entries {
			if k == 0 || !bytes.Equal(e.policy, entries[k-1].policy) {
				policyVal = slices.Clone(e.policy) // boxed once for the policy's rows
			}
			nameVal := c.multiAsset(policyVal, e.name)
			c.add(MaTxOut, c.hashV(), indexVal, policyVal, nameVal, c.slotV(), decimalValU(e.qty))
		}
		return nil
	}
	assets := o.Assets()
	if assets == nil {
		return nil
	}
	// gouroboros drops zero-quantity assets while decoding, as the ledger does
	// before protocol version 9 (and rejects them from 9 on): none becomes a row.
	for _, policy := range sortedPolicies(assets.Policies()) {
		policyVal := any(policy.Bytes()) // boxed once for the policy's rows
		for _, name := range sortedNames(assets.Assets(policy)) {
			nameVal := c.multiAsset(policyVal, name)
			c.add(MaTxOut, c.hashV(), indexVal, policyVal, nameVal, c.slotV(),
				decimalVal(assets.Asset(policy, name)))
		}
	}
	return nil
}

// addressValues are an output address's columns, as row values.
type addressValues struct {
	view, raw, paymentCred, stakeCred, stakeView any
	hasScript                                    any
}

// outputAddress gives an output's address columns, once per block for an
// address (by its bytes as the output carries them: gouroboros's Address
// and every column follow from them).
func (c *txCtx) outputAddress(o common.TransactionOutput) (*addressValues, error) {
	onChain, cached := outputAddressRaw(o.Cbor())
	if cached {
		if a, ok := c.addrs[string(onChain)]; ok {
			return a, nil
		}
	}
	addr := o.Address()
	raw, err := addr.Bytes()
	if err != nil {
		return nil, fmt.Errorf("address bytes: %w", err)
	}
	pointer := addr.Type() == common.AddressTypeKeyPointer || addr.Type() == common.AddressTypeScriptPointer
	if pointer {
		// gouroboros re-encodes a pointer's variable-length integers; db-sync's
		// address_raw is the address as the chain has it.
		if onChain, ok := outputAddressBytes(o.Cbor()); ok {
			raw = onChain
		}
	}
	a := &addressValues{raw: raw}
	switch p := addr.PayloadPayload().(type) {
	case common.AddressPayloadKeyHash:
		a.paymentCred = p.Hash.Bytes()
	case common.AddressPayloadScriptHash:
		a.paymentCred = p.Hash.Bytes()
	}
	if addr.Type() == common.AddressTypeByron {
		a.paymentCred = nil // db-sync: a Byron address has no payment credential
	}
	if sc, ok := addr.StakeCredential(); ok {
		a.stakeCred = sc.Credential.Bytes()
		a.stakeView = c.stakeAddress(sc)
	}
	a.hasScript = addr.Type() != common.AddressTypeByron && addr.Type()&common.AddressTypeScriptBit != 0 &&
		addr.Type() != common.AddressTypeNoneKey
	if addr.Type() == common.AddressTypeByron {
		a.view = addr.String()
	} else {
		// What addr.String gives, but from the bytes the row holds (a
		// pointer's as on chain) and without encoding them again.
		a.view = addressView(raw)
	}
	if cached {
		if c.addrs == nil {
			c.addrs = map[string]*addressValues{}
		}
		c.addrs[string(onChain)] = a
	}
	return a, nil
}

// outputAddressRaw is outputAddressBytes read head by head, without a copy:
// ok is false for an output it does not read (an indefinite length).
func outputAddressRaw(raw []byte) ([]byte, bool) {
	major, n, indef, i, ok := cborHead(raw, 0)
	if !ok || indef || n == 0 {
		return nil, false
	}
	switch major {
	case 4:
	case 5:
		for ; n > 0; n-- {
			km, k, kIndef, next, ok := cborHead(raw, i)
			if !ok || km != 0 || kIndef {
				return nil, false
			}
			if k == 0 {
				i = next
				break
			}
			if i, ok = cborSkip(raw, next); !ok {
				return nil, false
			}
		}
		if n == 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	major, l, indef, i, ok := cborHead(raw, i)
	if !ok || major != 2 || indef || l == 0 || l > uint64(len(raw)-i) {
		return nil, false
	}
	return raw[i : i+int(l)], true
}

// mint adds the transaction's minted and burned assets.
func (c *txCtx) mint() {
	m := c.body.AssetMint()
	if m == nil {
		return
	}
	for _, policy := range sortedPolicies(m.Policies()) {
		policyVal := any(policy.Bytes()) // boxed once for the policy's rows
		for _, name := range sortedNames(m.Assets(policy)) {
			nameVal := c.multiAsset(policyVal, name)
			c.add(MaTxMint, c.hashV(), policyVal, nameVal, c.slotV(), decimalVal(m.Asset(policy, name)))
		}
	}
}

// sortedPolicies and sortedNames put a value's policies and asset names in
// the order of their rows' keys (see Key: a byte string's length, then its
// bytes), as gouroboros gives them in map order: the rows come out sorted.
func sortedPolicies(ps []common.Blake2b224) []common.Blake2b224 {
	slices.SortFunc(ps, func(a, b common.Blake2b224) int { return bytes.Compare(a[:], b[:]) })
	return ps
}

func sortedNames(names [][]byte) [][]byte {
	slices.SortFunc(names, func(a, b []byte) int { return cmp.Or(cmp.Compare(len(a), len(b)), bytes.Compare(a, b)) })
	return names
}

// multiAsset adds an asset's multi_asset row, once per block, and returns
// its name as a row value, shared by the rows that name the asset. policy
// holds the policy id's []byte (policyVal).
func (c *txCtx) multiAsset(policy any, name []byte) (nameVal any) {
	p := policy.([]byte)
	c.assetKey = append(append(c.assetKey[:0], p...), name...)
	if v, seen := c.assets[string(c.assetKey)]; seen {
		return v
	}
	if c.assets == nil {
		c.assets = map[string]any{}
	}
	nameVal = slices.Clone(name) // the rows keep no part of the block's bytes
	c.assets[string(c.assetKey)] = nameVal
	c.add(MultiAsset, policy, nameVal, c.fingerprint(p, name), c.slotV())
	return nameVal
}

// fingerprint is an asset's CIP-14 fingerprint, as gouroboros's
// AssetFingerprint gives it: the bech32 "asset" text of the Blake2b-160 of
// policy and name (one hash state per block).
func (b *blockCtx) fingerprint(policy, name []byte) string {
	if b.fpHash == nil {
		b.fpHash, _ = blake2b.New(20, nil) // 20 is a valid size, no key
	}
	b.fpHash.Reset()
	b.fpHash.Write(policy)
	b.fpHash.Write(name)
	b.fpSum = b.fpHash.Sum(b.fpSum[:0])
	return bech32Encode("asset", b.fpSum)
}

// withdrawals adds one row per withdrawn reward account.
func (c *txCtx) withdrawals() error {
	for addr, amount := range c.body.Withdrawals() {
		if addr == nil {
			continue
		}
		cred, err := addr.RewardAccountCredential()
		if err != nil {
			return fmt.Errorf("withdrawal address: %w", err)
		}
		view := c.stakeAddressFromBytes(cred, addr)
		amt := "0"
		if amount != nil {
			amt = amount.String()
		}
		c.add(Withdrawal, c.hashV(), view, c.slotV(), amt)
	}
	return nil
}

// stakeAddress records the reward address of a stake credential on this
// network and returns its bech32 view.
func (c *txCtx) stakeAddress(cred common.Credential) string {
	header := byte(0xe0)
	if cred.CredType == common.CredentialTypeScriptHash {
		header = 0xf0
	}
	var buf [29]byte
	buf[0] = header | c.net.NetworkID&0x0f
	copy(buf[1:], cred.Credential[:])
	if view, ok := c.stakeViews[string(buf[:])]; ok {
		return view
	}
	// A 28-byte credential always makes a valid reward address: its bytes
	// are these, its view their bech32 text (what NewAddressFromBytes and
	// Address.String give).
	raw := append([]byte(nil), buf[:]...)
	return c.addStakeAddress(cred, raw, addressView(raw))
}

func (c *txCtx) stakeAddressFromBytes(cred common.Credential, addr *common.Address) string {
	raw, _ := addr.Bytes()
	if view, ok := c.stakeViews[string(raw)]; ok {
		return view
	}
	view := addr.String()
	if t := addr.Type(); t == common.AddressTypeNoneKey || t == common.AddressTypeNoneScript {
		view = addressView(raw) // the same text, encoded once
	}
	return c.addStakeAddress(cred, raw, view)
}

// addStakeAddress records a reward address, its bytes and view, once per block.
func (c *txCtx) addStakeAddress(cred common.Credential, raw []byte, view string) string {
	if c.stakeViews == nil {
		c.stakeViews = map[string]string{}
	}
	c.stakeViews[string(raw)] = view
	var scriptHash any
	if cred.CredType == common.CredentialTypeScriptHash {
		scriptHash = cred.Credential.Bytes()
	}
	c.add(StakeAddress, view, raw, scriptHash, c.slotV())
	return view
}

// poolHash records a pool id and returns its raw bytes.
func (c *txCtx) poolHash(h common.Blake2b224) []byte {
	c.add(PoolHash, h.Bytes(), bech32Encode("pool", h[:]), c.slotV())
	return h.Bytes()
}

// assetsDescr renders an output's assets as JSON for collateral outputs,
// which have no ma_tx_out rows: {"<policy hex>": {"<name hex>": "<quantity>"}}.
func assetsDescr(m *common.MultiAsset[common.MultiAssetTypeOutput]) any {
	if m == nil || len(m.Policies()) == 0 {
		return nil
	}
	out := map[string]map[string]string{}
	for _, policy := range m.Policies() {
		names := map[string]string{}
		for _, name := range m.Assets(policy) {
			names[hex.EncodeToString(name)] = m.Asset(policy, name).String()
		}
		out[hex.EncodeToString(policy.Bytes())] = names
	}
	b, _ := json.Marshal(out) // map keys are sorted: the text is deterministic
	return string(b)
}

// outputAddressBytes reads an output's address bytes from its CBOR: the first
// element of a legacy array output, key 0 of a map output.
func outputAddressBytes(raw []byte) ([]byte, bool) {
	var addr []byte
	switch {
	case len(raw) > 0 && raw[0]>>5 == 4:
		var parts []cbor.RawMessage
		if _, err := cbor.Decode(raw, &parts); err != nil || len(parts) == 0 {
			return nil, false
		}
		if _, err := cbor.Decode(parts[0], &addr); err != nil {
			return nil, false
		}
	case len(raw) > 0 && raw[0]>>5 == 5:
		var m map[uint64]cbor.RawMessage
		if _, err := cbor.Decode(raw, &m); err != nil || m[0] == nil {
			return nil, false
		}
		if _, err := cbor.Decode(m[0], &addr); err != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	return addr, len(addr) > 0
}

// outputHasDatumHash says whether an output's CBOR carries a datum hash: a
// legacy array output's third element, or a map output's datum option
// [0, hash].
func outputHasDatumHash(raw []byte) bool {
	switch {
	case len(raw) > 0 && raw[0]>>5 == 4:
		var parts []cbor.RawMessage
		_, err := cbor.Decode(raw, &parts)
		return err == nil && len(parts) >= 3
	case len(raw) > 0 && raw[0]>>5 == 5:
		var m map[uint64]cbor.RawMessage
		if _, err := cbor.Decode(raw, &m); err != nil || m[2] == nil {
			return false
		}
		var opt []cbor.RawMessage
		_, err := cbor.Decode(m[2], &opt)
		return err == nil && len(opt) == 2 && len(opt[0]) == 1 && opt[0][0] == 0
	}
	return false
}

// addressView is the CIP-19 bech32 text of Shelley address bytes, with
// gouroboros's prefixes (Address.String): "stake" for reward addresses,
// "addr" for the others, "_test" added off network 1.
func addressView(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	hrp := "addr"
	if t := raw[0] >> 4; t == common.AddressTypeNoneKey || t == common.AddressTypeNoneScript {
		hrp = "stake"
	}
	if raw[0]&common.AddressHeaderNetworkMask != common.AddressNetworkMainnet {
		hrp += "_test"
	}
	return bech32Encode(hrp, raw)
}
