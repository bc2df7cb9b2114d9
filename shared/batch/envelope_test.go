package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/nectar-indexer/nectar/shared/chain"
)

func realBlocks(tb testing.TB) []Block {
	tb.Helper()
	var out []Block
	for _, f := range []struct {
		name string
		typ  uint
	}{
		{"babbage/preview_babbage_slot259215_447cc9cf7c5d.cbor", 6},
		{"conway/mainnet_conway_slot139255207_d01634a1ba81.cbor", 7},
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "blocks", f.name))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, Block{Type: f.typ, CBOR: raw})
	}
	return out
}

func sampleBlocks(tb testing.TB) *Envelope {
	return &Envelope{Kind: KindBlocks, Network: "preview",
		First:    chain.Point{Slot: 1, Hash: bytes.Repeat([]byte{1}, 32)},
		Last:     chain.Point{Slot: 2, Hash: bytes.Repeat([]byte{2}, 32)},
		PrevHash: bytes.Repeat([]byte{9}, 32), Blocks: realBlocks(tb)}
}

func TestRoundTrip(t *testing.T) {
	rollback := &Envelope{Kind: KindRollback, Network: "mainnet",
		Point: chain.Point{Slot: 10, Hash: bytes.Repeat([]byte{3}, 32)},
		From:  chain.Point{Slot: 20, Hash: bytes.Repeat([]byte{4}, 32)}, At: 1234567890}
	for _, e := range []*Envelope{sampleBlocks(t), rollback} {
		t.Run(e.Kind.String(), func(t *testing.T) {
			raw, err := Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.ID(), e.ID()) {
				t.Errorf("id changed in transit")
			}
			if got.Network != e.Network || len(got.Blocks) != len(e.Blocks) || got.At != e.At ||
				!bytes.Equal(got.PrevHash, e.PrevHash) || got.Point.Slot != e.Point.Slot {
				t.Errorf("decoded %+v, want %+v", got, e)
			}
			for i := range e.Blocks {
				if got.Blocks[i].Type != e.Blocks[i].Type || !bytes.Equal(got.Blocks[i].CBOR, e.Blocks[i].CBOR) {
					t.Errorf("block %d differs", i)
				}
			}
		})
	}
}

func TestIDDependsOnContent(t *testing.T) {
	a := sampleBlocks(t)
	b := sampleBlocks(t)
	if !bytes.Equal(a.ID(), b.ID()) {
		t.Fatal("same content, different ids")
	}
	b.After = []byte{1}
	if bytes.Equal(a.ID(), b.ID()) {
		t.Error("a batch after a rollback must get a new id")
	}
	r := &Envelope{Kind: KindRollback, Network: "preview", Point: a.First, From: a.Last}
	if bytes.Equal(r.ID(), a.ID()) {
		t.Error("rollback and blocks share an id")
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := Encode(sampleBlocks(t))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	many := &Envelope{Kind: KindBlocks, Network: "x"}
	for range 11 {
		many.Blocks = append(many.Blocks, Block{Type: 7, CBOR: []byte{0x80}})
	}
	manyRaw, _ := Encode(many)
	tests := []struct {
		name string
		raw  []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrNotEnvelope},
		{"json", []byte(`{"blocks":[]}`), Limits{}, ErrNotEnvelope},
		{"truncated header", good[:10], Limits{}, ErrNotEnvelope},
		{"truncated body", good[:len(good)-20], Limits{}, ErrMalformed},
		{"wrong version", mutate(func(b []byte) []byte { b[4] = 9; return b }), Limits{}, ErrVersion},
		{"unknown kind", mutate(func(b []byte) []byte { b[5] = 7; return b }), Limits{}, ErrMalformed},
		{"corrupted checksum", mutate(func(b []byte) []byte { b[12] ^= 0xff; return b }), Limits{}, ErrChecksum},
		{"corrupted payload", mutate(func(b []byte) []byte { b[len(b)-30] ^= 0xff; return b }), Limits{}, ErrMalformed},
		{"lying length", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[6:], 1<<30); return b }), Limits{}, ErrTooLarge},
		{"oversized", good, Limits{MaxEncodedBytes: 100}, ErrTooLarge},
		{"too many blocks", manyRaw, Limits{MaxBlocks: 10}, ErrTooLarge},
		{"block too big", good, Limits{MaxBlockBytes: 1000}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.raw, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	good, err := Encode(sampleBlocks(f))
	if err != nil {
		f.Fatal(err)
	}
	rb, _ := Encode(&Envelope{Kind: KindRollback, Network: "preview", Point: chain.Point{Slot: 5, Hash: []byte{1}}})
	f.Add(good)
	f.Add(rb)
	f.Add(good[:headerLen])
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Decode(raw, Limits{MaxPayloadBytes: 1 << 20})
		if err != nil {
			if e != nil {
				t.Fatal("error with an envelope")
			}
			return
		}
		// What decodes re-encodes to an envelope that decodes to the same id.
		again, err := Encode(e)
		if err != nil {
			return // e.g. a blocks envelope whose count was zero is rejected earlier
		}
		e2, err := Decode(again, Limits{})
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if !bytes.Equal(e.ID(), e2.ID()) {
			t.Fatal("id changed across re-encoding")
		}
	})
}

// Version 2 carries a tip batch's At; version 1 envelopes (no At in a blocks
// payload), still queued during an upgrade, decode with At 0.
func TestTipBatchAtAndVersion1(t *testing.T) {
	e := sampleBlocks(t)
	e.After, e.At = bytes.Repeat([]byte{7}, 32), 1_700_000_000_123
	raw, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw, Limits{})
	if err != nil || got.At != e.At || !bytes.Equal(got.After, e.After) {
		t.Fatalf("decoded At %d after %x (%v), want %d after %x", got.At, got.After, err, e.At, e.After)
	}
	// The same envelope as version 1 wrote it: the payload without At.
	dec := decoders.Get().(*zstd.Decoder)
	payload, err := dec.DecodeAll(raw[headerLen:], nil)
	decoders.Put(dec)
	if err != nil {
		t.Fatal(err)
	}
	var w writer
	w.str(e.Network)
	w.point(e.First)
	w.point(e.Last)
	w.bytes8(e.PrevHash)
	w.bytes8(e.After)
	at := len(w.buf)
	v1 := append(bytes.Clone(payload[:at]), payload[at+8:]...)
	old := make([]byte, headerLen)
	copy(old, raw[:headerLen])
	old[4] = 1
	binary.BigEndian.PutUint32(old[6:], uint32(len(v1)))
	binary.BigEndian.PutUint32(old[10:], crc32.Checksum(v1, crcTable))
	old = encoder.EncodeAll(v1, old)
	got, err = Decode(old, Limits{})
	if err != nil {
		t.Fatalf("version 1 envelope: %v", err)
	}
	if got.At != 0 || len(got.Blocks) != len(e.Blocks) || !bytes.Equal(got.ID(), e.ID()) {
		t.Errorf("version 1 envelope decoded with At %d, %d blocks, id %x; want 0, %d, %x", got.At, len(got.Blocks), got.ID(), len(e.Blocks), e.ID())
	}
}
