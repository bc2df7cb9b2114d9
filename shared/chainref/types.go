package chainref

// Era names, lowercase, as the reference reports them.
const (
	Byron   = "byron"
	Shelley = "shelley"
	Allegra = "allegra"
	Mary    = "mary"
	Alonzo  = "alonzo"
	Babbage = "babbage"
	Conway  = "conway"
)

// eraByType maps a chain-sync block type (the hard-fork combinator's era tag)
// to its era: 0 Byron EBB, 1 Byron main block, 2 Shelley … 7 Conway.
var eraByType = [...]string{Byron, Byron, Shelley, Allegra, Mary, Alonzo, Babbage, Conway}

// eraRank orders eras: a feature "from Alonzo on" is eraRank[era] >= eraRank[Alonzo].
var eraRank = map[string]int{Byron: 0, Shelley: 1, Allegra: 2, Mary: 3, Alonzo: 4, Babbage: 5, Conway: 6}

func atLeast(era, since string) bool { return eraRank[era] >= eraRank[since] }

// ByronEpochSlots is the Byron epoch length (10k slots, k = 2160) of mainnet,
// preprod and the legacy testnet: a Byron slot is epoch*21600 + slot in epoch.
const ByronEpochSlots = 21600

// Block is what the reference reads from one block.
type Block struct {
	BlockType uint   // chain-sync block type: 0 Byron EBB, 1 Byron, 2 Shelley … 7 Conway
	Era       string // byron, shelley, allegra, mary, alonzo, babbage, conway
	EBB       bool   // a Byron epoch boundary block
	Size      int    // length of the block's CBOR (without the [era, block] wrapper)

	// Hash is Blake2b-256 of the header's CBOR; for Byron of the header
	// prefixed as the ledger hashes it, [0, ebb_header] or [1, main_header].
	Hash []byte
	// PrevHash is the header's previous hash; nil where the header has null
	// (the first block of a chain without Byron blocks, e.g. preview). The
	// genesis EBB's is the genesis data's hash.
	PrevHash []byte
	// Slot is the header's slot; Byron: epoch*ByronEpochSlots + slot in
	// epoch; an EBB: epoch*ByronEpochSlots.
	Slot  uint64
	Epoch uint64 // Byron only: the header's epoch
	// BlockNo is the header's block number; Byron: the chain difficulty. An
	// EBB carries the difficulty of the main block before it; it has no block
	// number of its own (HasBlockNo false; db-sync's block_no is NULL).
	BlockNo    uint64
	HasBlockNo bool

	// IssuerVkey is the header's issuer_vkey (Shelley on, 32 bytes); for a
	// Byron main block the consensus public key (64 bytes); nil for EBBs.
	IssuerVkey []byte
	// ProtoMajor and ProtoMinor are the header's protocol version (Shelley
	// on) or block version (Byron main blocks); EBBs have none.
	ProtoMajor, ProtoMinor uint64
	HasProto               bool
	// ProtocolMagic is the Byron header's protocol magic.
	ProtocolMagic uint64

	// BodySize and BodyHash are the header's block_body_size and
	// block_body_hash (Shelley on). BodyOK says that both agree with the
	// body as read (sum of the body parts' lengths; hash of their hashes);
	// for Byron main blocks that the body proof's tx count is the number of
	// transactions read; for EBBs it is true.
	BodySize uint64
	BodyHash []byte
	BodyOK   bool

	Txs []Tx
}

// Tx is what the reference reads from one transaction.
type Tx struct {
	Index int    // position in the block
	Hash  []byte // Blake2b-256 of the body's original bytes (Byron: of the tx)
	// Size is db-sync's tx.size, the ledger's sizeTxF. Shelley on:
	// 1 (array-of-3 header) + body + witness set + auxiliary data (or 1 for
	// null), all in their original bytes; the is_valid flag is not counted.
	// Byron: the length of the tx (inputs, outputs, attributes) without its
	// witnesses.
	Size  int
	Valid bool // false for a phase-2-invalid transaction (Alonzo on)

	Body      []byte // the transaction body's bytes (Byron: the tx)
	Witnesses []byte // the witness set's bytes (Byron: the witness list)
	AuxData   []byte // the auxiliary data's bytes, nil if none

	Inputs  []Input  // body inputs as a set: sorted by (hash, index), no repeats
	Outputs []Output // body outputs in order

	Fee             uint64 // declared fee (key 2)
	HasFee          bool   // false for Byron
	TTL             *uint64
	ValidityStart   *uint64
	Certs           []Cert
	Withdrawals     []Withdrawal // in encoded order
	Update          []byte       // key 6, the protocol parameter update, raw
	AuxDataHash     []byte
	Mint            []Mint // in encoded order
	ScriptDataHash  []byte
	Collateral      []Input // a set, sorted
	RequiredSigners [][]byte
	NetworkID       *uint64
	// CollateralReturn is key 16; its Index is the number of body outputs,
	// the index the ledger gives it when the transaction is invalid.
	CollateralReturn *Output
	TotalCollateral  *uint64
	ReferenceInputs  []Input // a set, sorted
	Votes            []Vote
	Proposals        []Proposal
	TreasuryValue    *uint64 // key 21, current_treasury_value
	Donation         *uint64 // key 22, treasury donation

	VKeyWitnesses      int      // as encoded, repeats included
	BootstrapWitnesses int      // as encoded, repeats included
	Scripts            []Script // witness-set scripts, then auxiliary-data scripts, as encoded
	Datums             []Datum  // witness-set Plutus data, as encoded
	Redeemers          []Redeemer
	RedeemersAsMap     bool // Conway's map format
	HasMetadataMap     bool // the auxiliary data holds a metadata map (maybe empty)
	Metadata           []Metadatum
}

// Input is a reference to an output: (transaction hash, output index).
type Input struct {
	TxHash []byte
	Index  uint64
}

// Output is one transaction output.
type Output struct {
	Index int
	// Address is the address bytes: the byte string's content from Shelley
	// on; for a Byron output the address's CBOR ([#6.24(bytes), crc]).
	Address  []byte
	Lovelace uint64
	// Assets are the multi-asset quantities in encoded order, zero
	// quantities included (the ledger drops those before protocol version 9;
	// see Positive).
	Assets []Asset
	// DatumHash is the output's datum hash: the third element of an Alonzo
	// array output or datum_option [0, hash]. InlineDatum is datum_option
	// [1, #6.24(bytes)]: the Plutus data's bytes; InlineDatumHash their
	// Blake2b-256.
	DatumHash       []byte
	InlineDatum     []byte
	InlineDatumHash []byte
	// ScriptRef is script_ref: the bytes inside the tag-24 byte string, the
	// CBOR of [type, script]; RefScript is that script read.
	ScriptRef []byte
	RefScript *Script
	MapFormat bool   // Babbage's map output (else the legacy array)
	Raw       []byte // the output's bytes
}

// Asset is a quantity of one asset in an output.
type Asset struct {
	Policy   []byte
	Name     []byte
	Quantity uint64
}

// Mint is a minted (positive) or burnt (negative) quantity.
type Mint struct {
	Policy   []byte
	Name     []byte
	Quantity int64
}

// Withdrawal is one reward withdrawal: the reward account's bytes and the amount.
type Withdrawal struct {
	RewardAccount []byte
	Amount        uint64
}

// Metadatum is one label of a transaction's metadata with its value's bytes.
type Metadatum struct {
	Label uint64
	Value []byte
}

// Script types, named as db-sync's script.type: a Shelley-era native script
// is multisig, from Allegra on timelock.
const (
	ScriptMultisig = "multisig"
	ScriptTimelock = "timelock"
	ScriptPlutusV1 = "plutusV1"
	ScriptPlutusV2 = "plutusV2"
	ScriptPlutusV3 = "plutusV3"
)

// Where a script was found.
const (
	FromWitness   = "witness"
	FromAuxData   = "aux_data"
	FromOutputRef = "output_ref"
)

// Script is a native or Plutus script.
type Script struct {
	// Hash is the ledger's script hash: Blake2b-224 of a language tag byte
	// (0 native, 1/2/3 Plutus V1/V2/V3) followed by Bytes.
	Hash []byte
	Type string
	// Bytes is, for a native script, its CBOR; for a Plutus script the
	// content of its byte string (the CBOR-wrapped flat program).
	Bytes []byte
	From  string
}

// Datum is a Plutus datum from a witness set: its Blake2b-256 and bytes.
type Datum struct {
	Hash  []byte
	Bytes []byte
}

// Redeemer purposes by tag.
var redeemerPurposes = [...]string{"spend", "mint", "cert", "reward", "voting", "proposing"}

// Redeemer is one redeemer of a witness set.
type Redeemer struct {
	Tag      uint64
	Purpose  string // spend, mint, cert, reward, voting, proposing
	Index    uint64
	Data     []byte
	DataHash []byte
	Mem      uint64
	Steps    uint64
}

// Credential is a key or script hash (stake, DRep, committee credentials).
type Credential struct {
	Script bool
	Hash   []byte
}

// Anchor is a URL and the hash of what it points to.
type Anchor struct {
	URL  string
	Hash []byte
}

// DRep kinds.
const (
	DRepKey          = "key"
	DRepScript       = "script"
	DRepAbstain      = "abstain"
	DRepNoConfidence = "no_confidence"
)

// DRep is a delegation target for votes.
type DRep struct {
	Kind string
	Hash []byte // for key and script DReps
}

// Certificate kinds by tag.
var certKinds = [...]string{
	"stake_registration", "stake_deregistration", "stake_delegation", "pool_registration",
	"pool_retirement", "genesis_key_delegation", "move_instantaneous_rewards",
	"reg", "unreg", "vote_deleg", "stake_vote_deleg", "stake_reg_deleg", "vote_reg_deleg",
	"stake_vote_reg_deleg", "auth_committee_hot", "resign_committee_cold", "reg_drep",
	"unreg_drep", "update_drep",
}

// Cert is one certificate. Which fields are set depends on Kind (the CDDL's
// certificate names without _cert).
type Cert struct {
	Index int
	Tag   uint64
	Kind  string
	// Credential is the stake credential (tags 0–2, 7–13), the DRep
	// credential (16–18) or the committee cold credential (14, 15).
	Credential  *Credential
	PoolHash    []byte  // delegation target (2, 10, 11, 13), retiring pool (4), operator (3)
	DRep        *DRep   // vote delegation target (9, 10, 12, 13)
	Deposit     *uint64 // Conway's explicit deposit or refund (7, 8, 11–13, 16, 17)
	Pool        *PoolParams
	RetireEpoch uint64
	// Genesis key delegation (5).
	GenesisHash, GenesisDelegateHash, VRFKeyHash []byte
	MIR                                          *MIR
	HotCredential                                *Credential // 14
	Anchor                                       *Anchor     // 15, 16, 18 when not null
	Raw                                          []byte
}

// PoolParams is a pool registration's parameters.
type PoolParams struct {
	Operator      []byte
	VRFKeyHash    []byte
	Pledge, Cost  uint64
	MarginNum     uint64
	MarginDen     uint64
	RewardAccount []byte
	Owners        [][]byte // as encoded
	Relays        []Relay
	Metadata      *Anchor // URL and metadata hash, nil when null
}

// Relay kinds by tag.
var relayKinds = [...]string{"single_host_addr", "single_host_name", "multi_host_name"}

// Relay is one pool relay.
type Relay struct {
	Kind    string
	Port    *uint64
	IPv4    []byte
	IPv6    []byte
	DNSName string
}

// MIR is a move-instantaneous-rewards certificate.
type MIR struct {
	Pot        string // reserves or treasury
	Targets    []MIRTarget
	ToOtherPot *uint64 // a transfer to the other pot instead of credentials
}

// MIRTarget is one credential's reward delta.
type MIRTarget struct {
	Credential Credential
	Amount     int64
}

// Voter kinds by tag.
var voterKinds = [...]string{"cc_hot_key", "cc_hot_script", "drep_key", "drep_script", "spo"}

// Vote is one voting procedure.
type Vote struct {
	VoterTag       uint64
	VoterKind      string // cc_hot_key, cc_hot_script, drep_key, drep_script, spo
	VoterHash      []byte
	GovActionTx    []byte
	GovActionIndex uint64
	Vote           uint64 // 0 no, 1 yes, 2 abstain
	Anchor         *Anchor
}

// Governance action types by tag.
var govActionTypes = [...]string{"parameter_change", "hard_fork_initiation", "treasury_withdrawals",
	"no_confidence", "update_committee", "new_constitution", "info"}

// GovActionID names a governance action: its transaction and index.
type GovActionID struct {
	TxHash []byte
	Index  uint64
}

// Proposal is one proposal procedure.
type Proposal struct {
	Index         int
	Deposit       uint64
	ReturnAccount []byte
	ActionTag     uint64
	ActionType    string
	PrevAction    *GovActionID // for the action types that chain (0, 1, 3, 4, 5)
	Withdrawals   []Withdrawal // treasury withdrawals (2)
	Action        []byte       // the gov_action's bytes
	Anchor        Anchor
}

// Positive returns the assets with a nonzero quantity: what the ledger keeps
// of an output's value (it drops zero quantities while decoding before
// protocol version 9, and rejects them from then on).
func (o *Output) Positive() []Asset {
	var out []Asset
	for _, a := range o.Assets {
		if a.Quantity != 0 {
			out = append(out, a)
		}
	}
	return out
}
