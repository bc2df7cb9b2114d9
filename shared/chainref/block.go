package chainref

import (
	"bytes"
	"errors"
	"fmt"
)

// DecodeWrapped reads a hard-fork-combinator-wrapped block, [era_tag,
// block], as ImmutableDB chunk files store them.
func DecodeWrapped(raw []byte) (*Block, error) {
	if err := whole(raw); err != nil {
		return nil, fmt.Errorf("wrapped block: %w", err)
	}
	parts, err := array(raw, 2)
	if err != nil {
		return nil, fmt.Errorf("wrapped block: %w", err)
	}
	tag, err := uintOf(parts[0])
	if err != nil {
		return nil, fmt.Errorf("wrapped block era tag: %w", err)
	}
	return DecodeBlock(uint(tag), parts[1])
}

// DecodeBlock reads one block of the given chain-sync block type (0 Byron
// EBB, 1 Byron, 2 Shelley … 7 Conway) from its CBOR.
func DecodeBlock(blockType uint, raw []byte) (b *Block, err error) {
	if blockType >= uint(len(eraByType)) {
		return nil, fmt.Errorf("unknown block type %d", blockType)
	}
	if err := whole(raw); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	b = &Block{BlockType: blockType, Era: eraByType[blockType], EBB: blockType == 0, Size: len(raw)}
	switch blockType {
	case 0:
		err = b.readEBB(raw)
	case 1:
		err = b.readByron(raw)
	default:
		err = b.readShelley(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%s block: %w", b.Era, err)
	}
	return b, nil
}

// readShelley reads a block of Shelley or later:
//
//	block = [header, transaction_bodies, transaction_witness_sets,
//	         auxiliary_data_set, ? invalid_transactions (Alonzo on)]
//	header = [header_body, body_signature]
func (b *Block) readShelley(raw []byte) error {
	n := 4
	if atLeast(b.Era, Alonzo) {
		n = 5
	}
	parts, err := array(raw, n)
	if err != nil {
		return err
	}
	if err := b.readShelleyHeader(parts[0]); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	bodies, err := items(parts[1])
	if err != nil {
		return fmt.Errorf("transaction bodies: %w", err)
	}
	wits, err := items(parts[2])
	if err != nil {
		return fmt.Errorf("witness sets: %w", err)
	}
	if len(wits) != len(bodies) {
		return fmt.Errorf("%d transaction bodies, %d witness sets", len(bodies), len(wits))
	}
	auxPairs, err := pairs(parts[3])
	if err != nil {
		return fmt.Errorf("auxiliary data set: %w", err)
	}
	aux := make([][]byte, len(bodies))
	for _, p := range auxPairs {
		i, err := uintOf(p.k)
		if err != nil || i >= uint64(len(bodies)) {
			return fmt.Errorf("auxiliary data set: bad transaction index %x", p.k)
		}
		if aux[i] != nil {
			return fmt.Errorf("auxiliary data set: transaction %d twice", i)
		}
		aux[i] = p.v
	}
	invalid := make([]bool, len(bodies))
	if n == 5 {
		idx, err := items(parts[4])
		if err != nil {
			return fmt.Errorf("invalid transactions: %w", err)
		}
		for _, x := range idx {
			i, err := uintOf(x)
			if err != nil || i >= uint64(len(bodies)) {
				return fmt.Errorf("invalid transactions: bad index %x", x)
			}
			invalid[i] = true
		}
	}

	// The header commits to the body: its size is the sum of the parts'
	// lengths and its hash the hash of the parts' hashes (Shelley
	// bbHash; Alonzo on with the invalid transactions as a fourth part).
	var size int
	var hashes [][]byte
	for _, p := range parts[1:] {
		size += len(p)
		hashes = append(hashes, Blake2b256(p))
	}
	b.BodyOK = uint64(size) == b.BodySize && bytes.Equal(Blake2b256(hashes...), b.BodyHash)

	b.Txs = make([]Tx, len(bodies))
	for i := range bodies {
		tx := &b.Txs[i]
		*tx = Tx{Index: i, Hash: Blake2b256(bodies[i]), Valid: !invalid[i], Body: bodies[i], Witnesses: wits[i], AuxData: aux[i]}
		// sizeTxF: a one-byte array-of-3 header, then body, witness set and
		// auxiliary data in their original bytes, null (one byte) for none.
		auxSize := 1
		if aux[i] != nil {
			auxSize = len(aux[i])
		}
		tx.Size = 1 + len(bodies[i]) + len(wits[i]) + auxSize
		if err := tx.readBody(b.Era); err != nil {
			return fmt.Errorf("tx %d (%x) body: %w", i, tx.Hash, err)
		}
		if err := tx.readWitnesses(b.Era); err != nil {
			return fmt.Errorf("tx %d (%x) witness set: %w", i, tx.Hash, err)
		}
		if aux[i] != nil {
			if err := tx.readAuxData(b.Era); err != nil {
				return fmt.Errorf("tx %d (%x) auxiliary data: %w", i, tx.Hash, err)
			}
		}
	}
	return nil
}

// readShelleyHeader reads the header. Shelley to Alonzo inline the
// operational certificate and protocol version in header_body (15 fields);
// Babbage and Conway nest them (10 fields) and merge the two VRF results.
func (b *Block) readShelleyHeader(raw []byte) error {
	hdr, err := array(raw, 2)
	if err != nil {
		return err
	}
	b.Hash = Blake2b256(raw)
	want := 15
	if atLeast(b.Era, Babbage) {
		want = 10
	}
	f, err := array(hdr[0], want)
	if err != nil {
		return fmt.Errorf("header body: %w", err)
	}
	if b.BlockNo, err = uintOf(f[0]); err != nil {
		return fmt.Errorf("block number: %w", err)
	}
	b.HasBlockNo = true
	if b.Slot, err = uintOf(f[1]); err != nil {
		return fmt.Errorf("slot: %w", err)
	}
	if !isNull(f[2]) {
		if b.PrevHash, err = hashOf(f[2], 32); err != nil {
			return fmt.Errorf("prev hash: %w", err)
		}
	}
	if b.IssuerVkey, err = hashOf(f[3], 32); err != nil {
		return fmt.Errorf("issuer vkey: %w", err)
	}
	sizeAt, proto := 7, [][]byte(nil)
	if want == 15 {
		proto = f[13:15]
	} else {
		sizeAt = 6
		if proto, err = array(f[9], 2); err != nil {
			return fmt.Errorf("protocol version: %w", err)
		}
	}
	if b.BodySize, err = uintOf(f[sizeAt]); err != nil {
		return fmt.Errorf("body size: %w", err)
	}
	if b.BodyHash, err = hashOf(f[sizeAt+1], 32); err != nil {
		return fmt.Errorf("body hash: %w", err)
	}
	if b.ProtoMajor, err = uintOf(proto[0]); err != nil {
		return fmt.Errorf("protocol major: %w", err)
	}
	if b.ProtoMinor, err = uintOf(proto[1]); err != nil {
		return fmt.Errorf("protocol minor: %w", err)
	}
	b.HasProto = true
	return nil
}

// byronHash is the ledger's Byron header hash: Blake2b-256 of the header
// wrapped as the Byron block is, [0, ebb_header] or [1, main_header].
func byronHash(tag byte, header []byte) []byte {
	return Blake2b256([]byte{0x82, tag}, header)
}

// readEBB reads a Byron epoch boundary block:
//
//	ebblock = [header, body: [+ stakeholderid], extra]
//	ebbhead = [protocolMagic, prevBlock, bodyProof, [epochid, [difficulty]], extraData]
func (b *Block) readEBB(raw []byte) error {
	parts, err := array(raw, 3)
	if err != nil {
		return err
	}
	h, err := array(parts[0], 5)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	b.Hash = byronHash(0, parts[0])
	if err := b.readByronCommon(h); err != nil {
		return err
	}
	cons, err := array(h[3], 2)
	if err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	if b.Epoch, err = uintOf(cons[0]); err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	if b.BlockNo, err = difficulty(cons[1]); err != nil {
		return err
	}
	b.Slot = b.Epoch * ByronEpochSlots
	b.BodyOK = true
	return nil
}

// readByron reads a Byron main block:
//
//	mainblock = [header, body, extra]
//	blockhead = [protocolMagic, prevBlock, bodyProof, consensusData, extraData]
//	blockcons = [[epoch, slot], pubkey, [difficulty], blocksig]
//	blockheadex = [blockVersion: [u16, u16, u8], softwareVersion, attributes, extraProof]
//	blockbody = [txPayload: [* [tx, [* twit]]], ssc, dlg, upd]
func (b *Block) readByron(raw []byte) error {
	parts, err := array(raw, 3)
	if err != nil {
		return err
	}
	h, err := array(parts[0], 5)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	b.Hash = byronHash(1, parts[0])
	if err := b.readByronCommon(h); err != nil {
		return err
	}
	cons, err := array(h[3], 4)
	if err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	slotID, err := array(cons[0], 2)
	if err != nil {
		return fmt.Errorf("slot id: %w", err)
	}
	if b.Epoch, err = uintOf(slotID[0]); err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	inEpoch, err := uintOf(slotID[1])
	if err != nil {
		return fmt.Errorf("slot in epoch: %w", err)
	}
	if inEpoch >= ByronEpochSlots {
		return fmt.Errorf("slot in epoch %d beyond the epoch length %d", inEpoch, ByronEpochSlots)
	}
	b.Slot = b.Epoch*ByronEpochSlots + inEpoch
	if b.IssuerVkey, err = bytesOf(cons[1]); err != nil {
		return fmt.Errorf("issuer key: %w", err)
	}
	if b.BlockNo, err = difficulty(cons[2]); err != nil {
		return err
	}
	b.HasBlockNo = true
	extra, err := array(h[4], 4)
	if err != nil {
		return fmt.Errorf("extra data: %w", err)
	}
	ver, err := array(extra[0], 3)
	if err != nil {
		return fmt.Errorf("block version: %w", err)
	}
	if b.ProtoMajor, err = uintOf(ver[0]); err != nil {
		return fmt.Errorf("block version major: %w", err)
	}
	if b.ProtoMinor, err = uintOf(ver[1]); err != nil {
		return fmt.Errorf("block version minor: %w", err)
	}
	b.HasProto = true

	body, err := array(parts[1], 4)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	payload, err := items(body[0])
	if err != nil {
		return fmt.Errorf("tx payload: %w", err)
	}
	b.Txs = make([]Tx, len(payload))
	for i, p := range payload {
		if err := b.Txs[i].readByron(i, p); err != nil {
			return fmt.Errorf("tx %d: %w", i, err)
		}
	}
	// bodyProof = [txProof: [u32 count, merkle root, witnesses hash], ...]
	proof, err := array(h[2], 4)
	if err != nil {
		return fmt.Errorf("body proof: %w", err)
	}
	txProof, err := array(proof[0], 3)
	if err != nil {
		return fmt.Errorf("tx proof: %w", err)
	}
	count, err := uintOf(txProof[0])
	if err != nil {
		return fmt.Errorf("tx proof count: %w", err)
	}
	b.BodyOK = count == uint64(len(b.Txs))
	return nil
}

func (b *Block) readByronCommon(h [][]byte) error {
	var err error
	if b.ProtocolMagic, err = uintOf(h[0]); err != nil {
		return fmt.Errorf("protocol magic: %w", err)
	}
	if b.PrevHash, err = hashOf(h[1], 32); err != nil {
		return fmt.Errorf("prev hash: %w", err)
	}
	return nil
}

// difficulty reads difficulty = [u64].
func difficulty(raw []byte) (uint64, error) {
	d, err := array(raw, 1)
	if err != nil {
		return 0, fmt.Errorf("difficulty: %w", err)
	}
	n, err := uintOf(d[0])
	if err != nil {
		return 0, fmt.Errorf("difficulty: %w", err)
	}
	return n, nil
}

// readByron reads one entry of a Byron tx payload, [tx, [* twit]]:
//
//	tx = [[+ txin], [+ txout], attributes]
//	txin = [0, #6.24(bytes .cbor [txid, u32])]
//	txout = [address, u64]
//	address = [#6.24(bytes .cbor [addressid, addrattr, addrtype]), u64 crc]
func (tx *Tx) readByron(i int, raw []byte) error {
	aux, err := array(raw, 2)
	if err != nil {
		return err
	}
	body := aux[0]
	*tx = Tx{Index: i, Hash: Blake2b256(body), Size: len(body), Valid: true, Body: body, Witnesses: aux[1]}
	f, err := array(body, 3)
	if err != nil {
		return err
	}
	ins, err := items(f[0])
	if err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	for j, in := range ins {
		x, err := array(in, 2)
		if err != nil {
			return fmt.Errorf("input %d: %w", j, err)
		}
		if t, err := uintOf(x[0]); err != nil || t != 0 {
			return fmt.Errorf("input %d: not a UTxO input (type %x)", j, x[0])
		}
		inner, err := encodedCBOR(x[1])
		if err != nil {
			return fmt.Errorf("input %d: %w", j, err)
		}
		ref, err := array(inner, 2)
		if err != nil {
			return fmt.Errorf("input %d: %w", j, err)
		}
		var r Input
		if r.TxHash, err = hashOf(ref[0], 32); err != nil {
			return fmt.Errorf("input %d tx id: %w", j, err)
		}
		if r.Index, err = uintOf(ref[1]); err != nil {
			return fmt.Errorf("input %d index: %w", j, err)
		}
		tx.Inputs = append(tx.Inputs, r)
	}
	tx.Inputs = inputSet(tx.Inputs)
	outs, err := items(f[1])
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	for j, o := range outs {
		x, err := array(o, 2)
		if err != nil {
			return fmt.Errorf("output %d: %w", j, err)
		}
		addr, err := array(x[0], 2)
		if err != nil {
			return fmt.Errorf("output %d address: %w", j, err)
		}
		if _, err := encodedCBOR(addr[0]); err != nil {
			return fmt.Errorf("output %d address: %w", j, err)
		}
		if _, err := uintOf(addr[1]); err != nil {
			return fmt.Errorf("output %d address crc: %w", j, err)
		}
		out := Output{Index: j, Address: x[0], Raw: o}
		if out.Lovelace, err = uintOf(x[1]); err != nil {
			return fmt.Errorf("output %d amount: %w", j, err)
		}
		tx.Outputs = append(tx.Outputs, out)
	}
	if _, err := items(aux[1]); err != nil {
		return errors.New("witnesses: not an array")
	}
	return nil
}
