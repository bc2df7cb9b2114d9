package chain

import (
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// MIR sources as the certificate encodes them (move_instantaneous_reward =
// [0 / 1, ...]: 0 takes from the reserves, 1 from the treasury). gouroboros's
// common.MirSource constants are UTxO RPC's enum, not these.
const (
	mirFromReserves = 0
	mirFromTreasury = 1
)

// certificates adds the rows of every certificate of the transaction. A
// certificate is identified by (tx hash, cert index), its position in the
// body; every certificate kind produces at least one keyed row:
//
//	0 stake registration, 7 registration          stake_registration (deposit: NULL for 0, which carries none)
//	1 stake deregistration, 8 deregistration      stake_deregistration (refund: NULL for 1)
//	2 stake delegation                            delegation
//	3 pool registration                           pool_update, pool_owner, pool_relay, pool_metadata_ref
//	4 pool retirement                             pool_retire
//	5 genesis key delegation                      genesis_key_delegation
//	6 move instantaneous rewards                  reserve / treasury (one per credential), or pot_transfer
//	9 vote delegation                             delegation_vote
//	10 stake vote delegation                      delegation, delegation_vote
//	11 stake registration delegation              stake_registration, delegation
//	12 vote registration delegation               stake_registration, delegation_vote
//	13 stake vote registration delegation         stake_registration, delegation, delegation_vote
//	14 committee hot key authorization            committee_registration
//	15 committee cold key resignation             committee_deregistration
//	16, 17, 18 DRep registration, retirement, update  drep_registration (deposit: positive, minus the refund, NULL)
//
// Anchors go to voting_anchor, credentials to stake_address, pools to
// pool_hash and DReps to drep_hash.
func (c *txCtx) certificates() error {
	for i, cert := range c.body.Certificates() {
		if err := c.certificate(uint64(i), cert); err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
	}
	return nil
}

func (c *txCtx) certificate(idx uint64, cert common.Certificate) error {
	switch x := cert.(type) {
	case *common.StakeRegistrationCertificate:
		c.stakeRegistration(idx, x.StakeCredential, nil)
	case *common.RegistrationCertificate:
		c.stakeRegistration(idx, x.StakeCredential, strconv.FormatInt(x.Amount, 10))
	case *common.StakeDeregistrationCertificate:
		c.add(StakeDeregistration, c.hashV(), idx, c.slotV(), c.stakeAddress(x.StakeCredential), nil)
	case *common.DeregistrationCertificate:
		c.add(StakeDeregistration, c.hashV(), idx, c.slotV(), c.stakeAddress(x.StakeCredential),
			strconv.FormatInt(x.Amount, 10))
	case *common.StakeDelegationCertificate:
		if x.StakeCredential == nil {
			return fmt.Errorf("stake delegation without a credential")
		}
		c.delegation(idx, *x.StakeCredential, x.PoolKeyHash)
	case *common.PoolRegistrationCertificate:
		return c.poolRegistration(idx, x)
	case *common.PoolRetirementCertificate:
		c.add(PoolRetire, c.hashV(), idx, c.slotV(), c.poolHash(x.PoolKeyHash), x.Epoch)
	case *common.GenesisKeyDelegationCertificate:
		c.add(GenesisKeyDelegation, c.hashV(), idx, c.slotV(), notNullBytes(x.GenesisHash),
			notNullBytes(x.GenesisDelegateHash), x.VrfKeyHash.Bytes())
	case *common.MoveInstantaneousRewardsCertificate:
		return c.mir(idx, &x.Reward)
	case *common.VoteDelegationCertificate:
		c.voteDelegation(idx, x.StakeCredential, x.Drep)
	case *common.StakeVoteDelegationCertificate:
		c.delegation(idx, x.StakeCredential, x.PoolKeyHash)
		c.voteDelegation(idx, x.StakeCredential, x.Drep)
	case *common.StakeRegistrationDelegationCertificate:
		c.stakeRegistration(idx, x.StakeCredential, strconv.FormatInt(x.Amount, 10))
		c.delegation(idx, x.StakeCredential, x.PoolKeyHash)
	case *common.VoteRegistrationDelegationCertificate:
		c.stakeRegistration(idx, x.StakeCredential, strconv.FormatInt(x.Amount, 10))
		c.voteDelegation(idx, x.StakeCredential, x.Drep)
	case *common.StakeVoteRegistrationDelegationCertificate:
		c.stakeRegistration(idx, x.StakeCredential, strconv.FormatInt(x.Amount, 10))
		c.delegation(idx, x.StakeCredential, x.PoolKeyHash)
		c.voteDelegation(idx, x.StakeCredential, x.Drep)
	case *common.AuthCommitteeHotCertificate:
		c.add(CommitteeRegistration, c.hashV(), idx, c.slotV(),
			x.ColdCredential.Credential.Bytes(), isScript(x.ColdCredential),
			x.HotCredential.Credential.Bytes(), isScript(x.HotCredential))
	case *common.ResignCommitteeColdCertificate:
		url, hash := c.optionalAnchor(x.Anchor)
		c.add(CommitteeDeregistration, c.hashV(), idx, c.slotV(),
			x.ColdCredential.Credential.Bytes(), isScript(x.ColdCredential), url, hash)
	case *common.RegistrationDrepCertificate:
		c.drepRegistration(idx, x.DrepCredential, strconv.FormatInt(x.Amount, 10), x.Anchor)
	case *common.DeregistrationDrepCertificate:
		// The refund is recorded as a negative deposit (db-sync's convention).
		refund := new(big.Int).Neg(big.NewInt(x.Amount))
		c.drepRegistration(idx, x.DrepCredential, refund.String(), nil)
	case *common.UpdateDrepCertificate:
		c.drepRegistration(idx, x.DrepCredential, nil, x.Anchor)
	case nil:
		return fmt.Errorf("missing certificate")
	default:
		return fmt.Errorf("unsupported certificate type %d (%T)", cert.Type(), cert)
	}
	return nil
}

// stakeRegistration adds a stake_registration row; deposit is a decimal
// string, or nil when the certificate carries none.
func (c *txCtx) stakeRegistration(idx uint64, cred common.Credential, deposit any) {
	c.add(StakeRegistration, c.hashV(), idx, c.slotV(), c.stakeAddress(cred), deposit)
}

func (c *txCtx) delegation(idx uint64, cred common.Credential, pool common.Blake2b224) {
	c.add(Delegation, c.hashV(), idx, c.slotV(), c.stakeAddress(cred), c.poolHash(pool))
}

func (c *txCtx) voteDelegation(idx uint64, cred common.Credential, d common.Drep) {
	c.add(DelegationVote, c.hashV(), idx, c.slotV(), c.stakeAddress(cred), c.drep(d))
}

func (c *txCtx) drepRegistration(idx uint64, cred common.Credential, deposit any, anchor *common.GovAnchor) {
	view := c.drep(drepOfCredential(cred))
	url, hash := c.optionalAnchor(anchor)
	c.add(DrepRegistration, c.hashV(), idx, c.slotV(), view, deposit, url, hash)
}

// drepOfCredential turns a DRep credential (certificates 16-18) into the DRep it names.
func drepOfCredential(cred common.Credential) common.Drep {
	t := common.DrepTypeAddrKeyHash
	if cred.CredType == common.CredentialTypeScriptHash {
		t = common.DrepTypeScriptHash
	}
	return common.Drep{Type: t, Credential: cred.Credential.Bytes()}
}

// notNullBytes keeps a NOT NULL bytes column non-NULL.
func notNullBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func isScript(cred common.Credential) bool {
	return cred.CredType == common.CredentialTypeScriptHash
}

// optionalAnchor records an anchor when present and returns its url and hash
// as row values (both nil when absent).
func (c *txCtx) optionalAnchor(a *common.GovAnchor) (url, hash any) {
	if a == nil {
		return nil, nil
	}
	c.anchor(a.Url, a.DataHash[:])
	return a.Url, a.DataHash[:]
}

func (c *txCtx) poolRegistration(idx uint64, p *common.PoolRegistrationCertificate) error {
	if p.Margin.Rat == nil {
		return fmt.Errorf("pool registration without a margin")
	}
	reward, err := c.poolRewardAddress(p)
	if err != nil {
		return err
	}
	pool := c.poolHash(p.Operator)
	c.add(PoolUpdate, c.hashV(), idx, c.slotV(), pool, p.VrfKeyHash.Bytes(),
		strconv.FormatUint(p.Pledge, 10), strconv.FormatUint(p.Cost, 10),
		p.Margin.Num().String(), p.Margin.Denom().String(), reward)
	// An owner is a stake key hash: its reward address (this chain's network)
	// is a stake_address row, which pool_owner.addr_id names (db-sync's).
	for _, owner := range p.PoolOwners {
		c.add(PoolOwner, c.hashV(), idx, owner.Bytes(), c.slotV(),
			c.stakeAddress(common.Credential{CredType: common.CredentialTypeAddrKeyHash, Credential: owner}))
	}
	for i, r := range p.Relays {
		var ipv4, ipv6, dnsName, srvName, port any
		switch r.Type {
		case common.PoolRelayTypeSingleHostAddress:
			if r.Ipv4 != nil {
				ipv4 = r.Ipv4.String()
			}
			if r.Ipv6 != nil {
				ipv6 = relayIPv6(*r.Ipv6)
			}
		case common.PoolRelayTypeSingleHostName:
			if r.Hostname != nil {
				dnsName = *r.Hostname
			}
		case common.PoolRelayTypeMultiHostName:
			if r.Hostname != nil {
				srvName = *r.Hostname
			}
		default:
			return fmt.Errorf("pool relay %d: unknown relay type %d", i, r.Type)
		}
		if r.Port != nil {
			port = uint64(*r.Port)
		}
		c.add(PoolRelay, c.hashV(), idx, uint64(i), c.slotV(), ipv4, ipv6, dnsName, srvName, port)
	}
	if m := p.PoolMetadata; m != nil {
		c.add(PoolMetadataRef, c.hashV(), idx, c.slotV(), pool, m.Url, []byte(m.Hash))
	}
	return nil
}

// poolRewardAddress records and returns the pool's reward address. As
// db-sync does (Universal/Insert/Pool.hs adjustNetworkTag, its issue 546),
// the address takes this chain's network id whatever the certificate wrote:
// early mainnet registrations name the other network, and the ledger pays
// the credential all the same.
func (c *txCtx) poolRewardAddress(p *common.PoolRegistrationCertificate) (string, error) {
	return c.stakeAddress(p.RewardAccountCredential()), nil
}

// mir adds a move-instantaneous-rewards certificate. Payments to stake
// credentials become one reserve or treasury row per credential (by source)
// with the signed delta. A transfer to the other pot becomes a pot_transfer
// row holding, as db-sync does, the signed change of each pot: from the
// reserves, reserves = -amount and treasury = +amount; from the treasury,
// the opposite. A payment map that is empty has no row.
func (c *txCtx) mir(idx uint64, r *common.MoveInstantaneousRewardsCertificateReward) error {
	var table TableID
	switch r.Source {
	case mirFromReserves:
		table = Reserve
	case mirFromTreasury:
		table = Treasury
	default:
		return fmt.Errorf("mir: unknown source pot %d", r.Source)
	}
	if r.Rewards == nil {
		amount := strconv.FormatUint(r.OtherPot, 10)
		reserves, treasury := "-"+amount, amount
		if r.Source == mirFromTreasury {
			reserves, treasury = amount, "-"+amount
		}
		if r.OtherPot == 0 {
			reserves, treasury = "0", "0"
		}
		c.add(PotTransfer, c.hashV(), idx, c.slotV(), reserves, treasury)
		return nil
	}
	type payment struct {
		view   string
		amount string
	}
	pays := make([]payment, 0, len(r.Rewards))
	for cred, amount := range r.Rewards {
		if cred == nil || amount == nil {
			return fmt.Errorf("mir: missing credential or amount")
		}
		pays = append(pays, payment{c.stakeAddress(*cred), amount.String()})
	}
	// Map order is random: sort so the rows come out the same every time.
	slices.SortFunc(pays, func(a, b payment) int { return strings.Compare(a.view, b.view) })
	for _, p := range pays {
		c.add(table, c.hashV(), idx, p.view, c.slotV(), p.amount)
	}
	return nil
}

// paramProposals adds pre-Conway protocol parameter update proposals: one
// param_proposal row per proposing genesis key, with the proposed values as
// JSON (see updateJSON).
func (c *txCtx) paramProposals() error {
	epoch, updates := c.body.ProtocolParameterUpdates()
	if len(updates) == 0 {
		return nil
	}
	keys := make([]common.Blake2b224, 0, len(updates))
	for k := range updates {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b common.Blake2b224) int { return strings.Compare(string(a[:]), string(b[:])) })
	for _, k := range keys {
		js, err := toJSON(updates[k])
		if err != nil {
			return fmt.Errorf("param proposal %x: %w", k.Bytes(), err)
		}
		c.add(ParamProposal, c.hashV(), k.Bytes(), c.slotV(), epoch, js)
	}
	return nil
}

// relayIPv6 is a pool relay's IPv6 address as db-sync shows it: the ledger
// reads the 16 bytes as four 32-bit words, each little-endian.
func relayIPv6(b net.IP) string {
	if len(b) != 16 {
		return b.String()
	}
	var a [16]byte
	for w := range 4 {
		for i := range 4 {
			a[4*w+i] = b[4*w+3-i]
		}
	}
	return netip.AddrFrom16(a).String()
}
