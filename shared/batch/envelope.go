// Package batch defines the message that travels from the follower to ingest:
// a versioned, zstd-compressed, checksummed envelope holding either a
// contiguous run of raw blocks or a rollback. Decoding enforces size and count
// limits, so a malformed or hostile message is rejected with an error, never
// a panic or an allocation bomb.
//
// Wire format (version 2), all integers big-endian:
//
//	"NCTR" | version u8 | kind u8 | payload length u32 | CRC-32C of payload u32 | zstd(payload)
//
// Blocks payload: network, first point, last point, prev hash, after, at
// (unix ns) u64, count u32, then per block: type u8, length u32, CBOR.
// Version 1 (still read) has no at in a blocks payload. Rollback payload: network, point,
// from point, at (unix ns) u64. A point is slot u64 + hash; hashes and strings
// are a length byte and bytes.
package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// Version is the envelope version this code writes; it also reads
// version 1, whose blocks envelopes have no At.
const Version = 2

// Defaults for Limits.
const (
	DefaultMaxEncodedBytes = 1 << 20  // the SQS ceiling
	DefaultMaxPayloadBytes = 64 << 20 // after decompression
	DefaultMaxBlocks       = 10000
	DefaultMaxBlockBytes   = 4 << 20
)

var magic = []byte("NCTR")

const headerLen = 4 + 1 + 1 + 4 + 4

// Kind says what an envelope carries.
type Kind uint8

const (
	KindBlocks   Kind = 1
	KindRollback Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindBlocks:
		return "blocks"
	case KindRollback:
		return "rollback"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Block is one raw block: its chain-sync block type and CBOR.
type Block struct {
	Type uint
	CBOR []byte
}

// Envelope is one message. For KindBlocks, First/Last/PrevHash/After/Blocks
// are set; for KindRollback, Point/From/At.
type Envelope struct {
	Kind    Kind
	Network string

	First    chain.Point
	Last     chain.Point
	PrevHash []byte
	// After is the id of the rollback this batch follows, for batches near the
	// tip (nil for history): a batch re-sent after a rollback gets a new id.
	After  []byte
	Blocks []Block

	Point chain.Point // rollback target
	From  chain.Point // the head rolled back from
	// At is, for a rollback, when the follower saw it; for a tip batch, when
	// the follower saw the rollback the batch follows, or started, before its
	// first rollback (unix nanoseconds; 0 for history and version 1). A
	// rollback seen later than a batch's At abandoned whatever of the batch
	// it rolled back.
	At int64
}

// ID derives the envelope's id from its content. It is the FIFO
// deduplication id and the ingest_batch key.
func (e *Envelope) ID() []byte {
	h := sha256.New()
	var w writer
	w.u8(uint8(e.Kind))
	w.str(e.Network)
	switch e.Kind {
	case KindRollback:
		w.point(e.Point)
		w.point(e.From)
		w.u64(uint64(e.At))
	default:
		w.point(e.First)
		w.point(e.Last)
		w.bytes8(e.After)
	}
	h.Write(w.buf)
	return h.Sum(nil)
}

// Limits bound what Decode accepts. Zero values take the defaults.
type Limits struct {
	MaxEncodedBytes int
	MaxPayloadBytes int
	MaxBlocks       int
	MaxBlockBytes   int
}

func (l Limits) withDefaults() Limits {
	if l.MaxEncodedBytes <= 0 {
		l.MaxEncodedBytes = DefaultMaxEncodedBytes
	}
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if l.MaxBlocks <= 0 {
		l.MaxBlocks = DefaultMaxBlocks
	}
	if l.MaxBlockBytes <= 0 {
		l.MaxBlockBytes = DefaultMaxBlockBytes
	}
	return l
}

// Errors Decode returns, wrapped with detail.
var (
	ErrNotEnvelope = errors.New("not a Nectar envelope")
	ErrVersion     = errors.New("unsupported envelope version")
	ErrTooLarge    = errors.New("envelope exceeds a limit")
	ErrChecksum    = errors.New("envelope checksum mismatch")
	ErrMalformed   = errors.New("malformed envelope")
)

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	decoders   = sync.Pool{New: func() any {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(DefaultMaxPayloadBytes))
		return d
	}}
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

// Encode serialises, compresses and checksums an envelope.
func Encode(e *Envelope) ([]byte, error) {
	var w writer
	w.str(e.Network)
	switch e.Kind {
	case KindBlocks:
		if len(e.Blocks) == 0 {
			return nil, errors.New("encode: a blocks envelope needs at least one block")
		}
		w.point(e.First)
		w.point(e.Last)
		w.bytes8(e.PrevHash)
		w.bytes8(e.After)
		w.u64(uint64(e.At))
		w.u32(uint32(len(e.Blocks)))
		for _, b := range e.Blocks {
			if b.Type > 255 {
				return nil, fmt.Errorf("encode: block type %d out of range", b.Type)
			}
			w.u8(uint8(b.Type))
			w.u32(uint32(len(b.CBOR)))
			w.buf = append(w.buf, b.CBOR...)
		}
	case KindRollback:
		w.point(e.Point)
		w.point(e.From)
		w.u64(uint64(e.At))
	default:
		return nil, fmt.Errorf("encode: unknown kind %d", e.Kind)
	}
	for _, h := range [][]byte{e.PrevHash, e.After, e.First.Hash, e.Last.Hash, e.Point.Hash, e.From.Hash} {
		if len(h) > 255 {
			return nil, errors.New("encode: hash longer than 255 bytes")
		}
	}
	out := make([]byte, headerLen, headerLen+len(w.buf)/2)
	copy(out, magic)
	out[4] = Version
	out[5] = uint8(e.Kind)
	binary.BigEndian.PutUint32(out[6:], uint32(len(w.buf)))
	binary.BigEndian.PutUint32(out[10:], crc32.Checksum(w.buf, crcTable))
	return encoder.EncodeAll(w.buf, out), nil
}

// Decode checks and decodes an envelope within the limits.
func Decode(raw []byte, lim Limits) (*Envelope, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxEncodedBytes {
		return nil, fmt.Errorf("%w: %d encoded bytes, limit %d", ErrTooLarge, len(raw), lim.MaxEncodedBytes)
	}
	if len(raw) < headerLen || !bytes.Equal(raw[:4], magic) {
		return nil, fmt.Errorf("%w: missing NCTR header (%d bytes)", ErrNotEnvelope, len(raw))
	}
	version := raw[4]
	if version != Version && version != 1 {
		return nil, fmt.Errorf("%w: version %d, this build reads 1 and %d", ErrVersion, version, Version)
	}
	kind := Kind(raw[5])
	if kind != KindBlocks && kind != KindRollback {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, raw[5])
	}
	size := binary.BigEndian.Uint32(raw[6:])
	if int64(size) > int64(lim.MaxPayloadBytes) {
		return nil, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, size, lim.MaxPayloadBytes)
	}
	dec := decoders.Get().(*zstd.Decoder)
	defer decoders.Put(dec)
	// The header's length is not trusted for the allocation: a few bytes could claim 64 MiB.
	payload, err := dec.DecodeAll(raw[headerLen:], make([]byte, 0, min(int(size), 16*len(raw)+4096)))
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrMalformed, err)
	}
	if uint32(len(payload)) != size {
		return nil, fmt.Errorf("%w: payload is %d bytes, header says %d", ErrMalformed, len(payload), size)
	}
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(raw[10:]) {
		return nil, ErrChecksum
	}
	r := reader{buf: payload}
	e := &Envelope{Kind: kind, Network: r.str()}
	switch kind {
	case KindBlocks:
		e.First, e.Last = r.point(), r.point()
		e.PrevHash, e.After = r.bytes8(), r.bytes8()
		if version >= 2 {
			e.At = int64(r.u64())
		}
		n := r.u32()
		if r.err == nil && int64(n) > int64(lim.MaxBlocks) {
			return nil, fmt.Errorf("%w: %d blocks, limit %d", ErrTooLarge, n, lim.MaxBlocks)
		}
		if r.err == nil && n == 0 {
			return nil, fmt.Errorf("%w: blocks envelope with no blocks", ErrMalformed)
		}
		for i := uint32(0); i < n && r.err == nil; i++ {
			t := r.u8()
			l := r.u32()
			if r.err == nil && int64(l) > int64(lim.MaxBlockBytes) {
				return nil, fmt.Errorf("%w: block %d is %d bytes, limit %d", ErrTooLarge, i, l, lim.MaxBlockBytes)
			}
			e.Blocks = append(e.Blocks, Block{Type: uint(t), CBOR: r.take(int(l))})
		}
	case KindRollback:
		e.Point, e.From = r.point(), r.point()
		e.At = int64(r.u64())
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return e, nil
}

type writer struct{ buf []byte }

func (w *writer) u8(v uint8)   { w.buf = append(w.buf, v) }
func (w *writer) u32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *writer) u64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *writer) bytes8(b []byte) {
	w.u8(uint8(len(b)))
	w.buf = append(w.buf, b...)
}
func (w *writer) str(s string) { w.bytes8([]byte(s)) }
func (w *writer) point(p chain.Point) {
	w.u64(p.Slot)
	w.bytes8(p.Hash)
}

// reader consumes a payload; the first short read sets err and later reads return zero values.
type reader struct {
	buf []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf) {
		r.err = fmt.Errorf("need %d bytes, %d left", n, len(r.buf))
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) u8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *reader) bytes8() []byte {
	n := int(r.u8())
	if n == 0 {
		return nil
	}
	return r.take(n)
}

func (r *reader) str() string { return string(r.bytes8()) }

func (r *reader) point() chain.Point {
	return chain.Point{Slot: r.u64(), Hash: r.bytes8()}
}
