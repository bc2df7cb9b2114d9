package chainref

import (
	"fmt"
)

// certArity is the number of array elements of each certificate tag (tag included).
var certArity = [...]int{2, 2, 3, 10, 3, 4, 2, 3, 3, 3, 4, 4, 4, 5, 3, 3, 4, 3, 3}

// certAllowed says which tags an era's CDDL has: 0–6 until Babbage; Conway
// drops genesis key delegation (5) and MIR (6) and adds 7–18.
func certAllowed(era string, tag uint64) bool {
	if era == Conway {
		return tag <= 4 || (tag >= 7 && tag <= 18)
	}
	return tag <= 6
}

// readCerts reads certificates = [* certificate] (nonempty_set in Conway).
func (tx *Tx) readCerts(era string, v []byte) error {
	xs, err := setItems(v)
	if err != nil {
		return err
	}
	for i, x := range xs {
		c, err := readCert(era, x)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
		c.Index = i
		tx.Certs = append(tx.Certs, c)
	}
	return nil
}

func readCert(era string, raw []byte) (Cert, error) {
	c := Cert{Raw: raw}
	f, err := items(raw)
	if err != nil {
		return c, err
	}
	if len(f) == 0 {
		return c, fmt.Errorf("empty certificate")
	}
	if c.Tag, err = uintOf(f[0]); err != nil {
		return c, err
	}
	if !certAllowed(era, c.Tag) {
		return c, fmt.Errorf("certificate tag %d is not in %s", c.Tag, era)
	}
	c.Kind = certKinds[c.Tag]
	if len(f) != certArity[c.Tag] {
		return c, fmt.Errorf("%s: want %d elements, have %d", c.Kind, certArity[c.Tag], len(f))
	}
	// Every tag but 3 (pool registration), 4 (retirement), 5 (genesis) and 6
	// (MIR) starts with a credential.
	if c.Tag <= 2 || c.Tag >= 7 {
		cred, err := readCredential(f[1])
		if err != nil {
			return c, fmt.Errorf("%s credential: %w", c.Kind, err)
		}
		c.Credential = &cred
	}
	deposit := func(v []byte) error {
		d, err := uintOf(v)
		if err != nil {
			return fmt.Errorf("%s deposit: %w", c.Kind, err)
		}
		c.Deposit = &d
		return nil
	}
	pool := func(v []byte) (err error) {
		if c.PoolHash, err = hashOf(v, 28); err != nil {
			return fmt.Errorf("%s pool: %w", c.Kind, err)
		}
		return nil
	}
	drep := func(v []byte) error {
		d, err := readDRep(v)
		if err != nil {
			return fmt.Errorf("%s drep: %w", c.Kind, err)
		}
		c.DRep = &d
		return nil
	}
	anchor := func(v []byte) error {
		if isNull(v) {
			return nil
		}
		a, err := readAnchor(v)
		if err != nil {
			return fmt.Errorf("%s anchor: %w", c.Kind, err)
		}
		c.Anchor = &a
		return nil
	}
	switch c.Tag {
	case 2:
		err = pool(f[2])
	case 3:
		var p PoolParams
		if p, err = readPoolParams(f[1:]); err == nil {
			c.Pool, c.PoolHash = &p, p.Operator
		}
	case 4:
		if err = pool(f[1]); err == nil {
			c.RetireEpoch, err = uintOf(f[2])
		}
	case 5:
		if c.GenesisHash, err = hashOf(f[1], 28); err != nil {
			break
		}
		if c.GenesisDelegateHash, err = hashOf(f[2], 28); err != nil {
			break
		}
		c.VRFKeyHash, err = hashOf(f[3], 32)
	case 6:
		var m MIR
		if m, err = readMIR(era, f[1]); err == nil {
			c.MIR = &m
		}
	case 7, 8, 17:
		err = deposit(f[2])
	case 9:
		err = drep(f[2])
	case 10:
		if err = pool(f[2]); err == nil {
			err = drep(f[3])
		}
	case 11:
		if err = pool(f[2]); err == nil {
			err = deposit(f[3])
		}
	case 12:
		if err = drep(f[2]); err == nil {
			err = deposit(f[3])
		}
	case 13:
		if err = pool(f[2]); err == nil {
			if err = drep(f[3]); err == nil {
				err = deposit(f[4])
			}
		}
	case 14:
		var hot Credential
		if hot, err = readCredential(f[2]); err == nil {
			c.HotCredential = &hot
		}
	case 15, 18:
		err = anchor(f[2])
	case 16:
		if err = deposit(f[2]); err == nil {
			err = anchor(f[3])
		}
	}
	if err != nil {
		return c, fmt.Errorf("%s: %w", c.Kind, err)
	}
	return c, nil
}

// readCredential reads credential = [0, addr_keyhash] / [1, scripthash].
func readCredential(v []byte) (Credential, error) {
	f, err := array(v, 2)
	if err != nil {
		return Credential{}, err
	}
	kind, err := uintOf(f[0])
	if err != nil || kind > 1 {
		return Credential{}, fmt.Errorf("bad credential kind %x", f[0])
	}
	h, err := hashOf(f[1], 28)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Script: kind == 1, Hash: h}, nil
}

// readDRep reads drep = [0, addr_keyhash] / [1, scripthash] / [2] / [3].
func readDRep(v []byte) (DRep, error) {
	f, err := arrayN(v, 1, 2)
	if err != nil {
		return DRep{}, err
	}
	kind, err := uintOf(f[0])
	if err != nil {
		return DRep{}, err
	}
	switch {
	case kind <= 1 && len(f) == 2:
		h, err := hashOf(f[1], 28)
		if err != nil {
			return DRep{}, err
		}
		if kind == 0 {
			return DRep{Kind: DRepKey, Hash: h}, nil
		}
		return DRep{Kind: DRepScript, Hash: h}, nil
	case kind == 2 && len(f) == 1:
		return DRep{Kind: DRepAbstain}, nil
	case kind == 3 && len(f) == 1:
		return DRep{Kind: DRepNoConfidence}, nil
	}
	return DRep{}, fmt.Errorf("bad drep %x", v)
}

// readAnchor reads anchor = [url, hash32].
func readAnchor(v []byte) (Anchor, error) {
	f, err := array(v, 2)
	if err != nil {
		return Anchor{}, err
	}
	url, err := textOf(f[0])
	if err != nil {
		return Anchor{}, fmt.Errorf("url: %w", err)
	}
	h, err := hashOf(f[1], 32)
	if err != nil {
		return Anchor{}, fmt.Errorf("hash: %w", err)
	}
	return Anchor{URL: url, Hash: h}, nil
}

// readPoolParams reads pool_params = (operator, vrf_keyhash, pledge, cost,
// margin: #6.30([uint, uint]), reward_account, set<addr_keyhash>, [* relay],
// pool_metadata / null).
func readPoolParams(f [][]byte) (PoolParams, error) {
	var p PoolParams
	var err error
	if p.Operator, err = hashOf(f[0], 28); err != nil {
		return p, fmt.Errorf("operator: %w", err)
	}
	if p.VRFKeyHash, err = hashOf(f[1], 32); err != nil {
		return p, fmt.Errorf("vrf key hash: %w", err)
	}
	if p.Pledge, err = uintOf(f[2]); err != nil {
		return p, fmt.Errorf("pledge: %w", err)
	}
	if p.Cost, err = uintOf(f[3]); err != nil {
		return p, fmt.Errorf("cost: %w", err)
	}
	if p.MarginNum, p.MarginDen, err = readRational(f[4]); err != nil {
		return p, fmt.Errorf("margin: %w", err)
	}
	if p.RewardAccount, err = bytesOf(f[5]); err != nil {
		return p, fmt.Errorf("reward account: %w", err)
	}
	owners, err := setItems(f[6])
	if err != nil {
		return p, fmt.Errorf("owners: %w", err)
	}
	for _, o := range owners {
		h, err := hashOf(o, 28)
		if err != nil {
			return p, fmt.Errorf("owner: %w", err)
		}
		p.Owners = append(p.Owners, h)
	}
	relays, err := items(f[7])
	if err != nil {
		return p, fmt.Errorf("relays: %w", err)
	}
	for i, r := range relays {
		rel, err := readRelay(r)
		if err != nil {
			return p, fmt.Errorf("relay %d: %w", i, err)
		}
		p.Relays = append(p.Relays, rel)
	}
	if !isNull(f[8]) {
		m, err := readAnchor(f[8])
		if err != nil {
			return p, fmt.Errorf("pool metadata: %w", err)
		}
		p.Metadata = &m
	}
	return p, nil
}

// readRational reads #6.30([numerator, denominator]).
func readRational(v []byte) (num, den uint64, err error) {
	t, content, ok := tagged(v)
	if !ok || t != tagRational {
		return 0, 0, fmt.Errorf("want #6.30([n, d])")
	}
	f, err := array(content, 2)
	if err != nil {
		return 0, 0, err
	}
	if num, err = uintOf(f[0]); err != nil {
		return 0, 0, err
	}
	if den, err = uintOf(f[1]); err != nil {
		return 0, 0, err
	}
	return num, den, nil
}

// readRelay reads relay = [0, port / null, ipv4 / null, ipv6 / null]
// / [1, port / null, dns_name] / [2, dns_name].
func readRelay(v []byte) (Relay, error) {
	f, err := arrayN(v, 2, 4)
	if err != nil {
		return Relay{}, err
	}
	kind, err := uintOf(f[0])
	if err != nil || kind > 2 || len(f) != [...]int{4, 3, 2}[kind] {
		return Relay{}, fmt.Errorf("bad relay %x", v)
	}
	r := Relay{Kind: relayKinds[kind]}
	if kind <= 1 && !isNull(f[1]) {
		if r.Port, err = optUint(f[1]); err != nil {
			return r, fmt.Errorf("port: %w", err)
		}
	}
	switch kind {
	case 0:
		if !isNull(f[2]) {
			if r.IPv4, err = hashOf(f[2], 4); err != nil {
				return r, fmt.Errorf("ipv4: %w", err)
			}
		}
		if !isNull(f[3]) {
			if r.IPv6, err = hashOf(f[3], 16); err != nil {
				return r, fmt.Errorf("ipv6: %w", err)
			}
		}
	case 1:
		r.DNSName, err = textOf(f[2])
	case 2:
		r.DNSName, err = textOf(f[1])
	}
	return r, err
}

// readMIR reads move_instantaneous_reward = [0 / 1, {* stake_credential =>
// coin}] (Shelley–Mary), or with delta_coin targets or a coin for the other
// pot (Alonzo, Babbage).
func readMIR(era string, v []byte) (MIR, error) {
	f, err := array(v, 2)
	if err != nil {
		return MIR{}, err
	}
	pot, err := uintOf(f[0])
	if err != nil || pot > 1 {
		return MIR{}, fmt.Errorf("bad pot %x", f[0])
	}
	m := MIR{Pot: [...]string{"reserves", "treasury"}[pot]}
	if major, _, _, _, _ := head(f[1]); major == majorUint && atLeast(era, Alonzo) {
		m.ToOtherPot, err = optUint(f[1])
		return m, err
	}
	ps, err := pairs(f[1])
	if err != nil {
		return m, err
	}
	for _, p := range ps {
		cred, err := readCredential(p.k)
		if err != nil {
			return m, fmt.Errorf("target: %w", err)
		}
		// Shelley–Mary targets are coin (uint); Alonzo's delta_coin is an int.
		if !atLeast(era, Alonzo) {
			if _, err := uintOf(p.v); err != nil {
				return m, fmt.Errorf("amount: %w", err)
			}
		}
		amt, err := intOf(p.v)
		if err != nil {
			return m, fmt.Errorf("amount: %w", err)
		}
		m.Targets = append(m.Targets, MIRTarget{Credential: cred, Amount: amt})
	}
	return m, nil
}
