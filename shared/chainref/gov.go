package chainref

import "fmt"

// readVotes reads voting_procedures = {+ voter => {+ gov_action_id =>
// voting_procedure}}, voter = [0..4, hash28], voting_procedure = [vote,
// anchor / null].
func readVotes(v []byte) ([]Vote, error) {
	voters, err := pairs(v)
	if err != nil {
		return nil, err
	}
	var out []Vote
	for _, vp := range voters {
		f, err := array(vp.k, 2)
		if err != nil {
			return nil, fmt.Errorf("voter: %w", err)
		}
		tag, err := uintOf(f[0])
		if err != nil || tag >= uint64(len(voterKinds)) {
			return nil, fmt.Errorf("bad voter %x", vp.k)
		}
		hash, err := hashOf(f[1], 28)
		if err != nil {
			return nil, fmt.Errorf("voter hash: %w", err)
		}
		actions, err := pairs(vp.v)
		if err != nil {
			return nil, fmt.Errorf("voter %x: %w", hash, err)
		}
		for _, ap := range actions {
			id, err := readGovActionID(ap.k)
			if err != nil {
				return nil, fmt.Errorf("gov action id: %w", err)
			}
			proc, err := array(ap.v, 2)
			if err != nil {
				return nil, fmt.Errorf("voting procedure: %w", err)
			}
			vote, err := uintOf(proc[0])
			if err != nil || vote > 2 {
				return nil, fmt.Errorf("bad vote %x", proc[0])
			}
			x := Vote{VoterTag: tag, VoterKind: voterKinds[tag], VoterHash: hash,
				GovActionTx: id.TxHash, GovActionIndex: id.Index, Vote: vote}
			if !isNull(proc[1]) {
				a, err := readAnchor(proc[1])
				if err != nil {
					return nil, fmt.Errorf("vote anchor: %w", err)
				}
				x.Anchor = &a
			}
			out = append(out, x)
		}
	}
	return out, nil
}

func readGovActionID(v []byte) (GovActionID, error) {
	f, err := array(v, 2)
	if err != nil {
		return GovActionID{}, err
	}
	h, err := hashOf(f[0], 32)
	if err != nil {
		return GovActionID{}, err
	}
	i, err := uintOf(f[1])
	if err != nil {
		return GovActionID{}, err
	}
	return GovActionID{TxHash: h, Index: i}, nil
}

// govActionArity is the number of elements of each gov_action tag (tag included).
var govActionArity = [...]int{4, 3, 3, 2, 5, 3, 1}

// readProposals reads proposal_procedures = nonempty_set<[deposit,
// reward_account, gov_action, anchor]>.
func readProposals(v []byte) ([]Proposal, error) {
	xs, err := setItems(v)
	if err != nil {
		return nil, err
	}
	out := make([]Proposal, 0, len(xs))
	for i, x := range xs {
		f, err := array(x, 4)
		if err != nil {
			return nil, fmt.Errorf("proposal %d: %w", i, err)
		}
		p := Proposal{Index: i, Action: f[2]}
		if p.Deposit, err = uintOf(f[0]); err != nil {
			return nil, fmt.Errorf("proposal %d deposit: %w", i, err)
		}
		if p.ReturnAccount, err = bytesOf(f[1]); err != nil {
			return nil, fmt.Errorf("proposal %d return account: %w", i, err)
		}
		if p.Anchor, err = readAnchor(f[3]); err != nil {
			return nil, fmt.Errorf("proposal %d anchor: %w", i, err)
		}
		a, err := items(f[2])
		if err != nil || len(a) == 0 {
			return nil, fmt.Errorf("proposal %d: bad gov action", i)
		}
		if p.ActionTag, err = uintOf(a[0]); err != nil || p.ActionTag >= uint64(len(govActionTypes)) {
			return nil, fmt.Errorf("proposal %d: bad gov action tag %x", i, a[0])
		}
		p.ActionType = govActionTypes[p.ActionTag]
		if len(a) != govActionArity[p.ActionTag] {
			return nil, fmt.Errorf("proposal %d %s: want %d elements, have %d", i, p.ActionType, govActionArity[p.ActionTag], len(a))
		}
		switch p.ActionTag {
		case 0, 1, 3, 4, 5:
			if !isNull(a[1]) {
				id, err := readGovActionID(a[1])
				if err != nil {
					return nil, fmt.Errorf("proposal %d previous action: %w", i, err)
				}
				p.PrevAction = &id
			}
		case 2:
			if p.Withdrawals, err = readWithdrawals(a[1]); err != nil {
				return nil, fmt.Errorf("proposal %d treasury withdrawals: %w", i, err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
