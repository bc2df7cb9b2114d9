package chain

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// maxMetadataJSON bounds the work of rendering one metadata value as JSON.
// A transaction is at most a few tens of KiB, so real metadata renders far
// below it; only structured map keys, whose JSON text is nested inside a
// string and escaped again at every level, can grow beyond it. Such a value
// gets a NULL json rather than an allocation bomb.
const maxMetadataJSON = 4 << 20

var maxUint64 = new(big.Int).SetUint64(^uint64(0))

// metadata adds one tx_metadata row per label of the transaction's auxiliary
// data: json is the value as JSON, bytes the CBOR of {label: value}. An empty metadata map adds none. A label that repeats keeps its last
// value, as the ledger's map does.
func (c *txCtx) metadata() error {
	md := c.tx.Metadata()
	if md == nil {
		return nil
	}
	m, ok := asMetaMap(md)
	if !ok {
		return fmt.Errorf("metadata: top level is %T, not a map", md)
	}
	last := make(map[uint64]int, len(m.Pairs))
	var labels []uint64
	for i, p := range m.Pairs {
		label, ok := metadataLabel(p.Key)
		if !ok {
			return fmt.Errorf("metadata: label %d is not an unsigned 64-bit integer", i)
		}
		if _, seen := last[label]; !seen {
			labels = append(labels, label)
		}
		last[label] = i
	}
	for _, label := range labels {
		v := m.Pairs[last[label]].Value
		raw, err := metadatumCbor(v)
		if err != nil {
			return fmt.Errorf("metadata label %d: %w", label, err)
		}
		var text any
		if j, ok := MetadataJSON(v); ok {
			text = j
		}
		c.add(TxMetadata, c.hashV(), strconv.FormatUint(label, 10), c.slotV(), text, metadataEntryCbor(label, raw))
	}
	return nil
}

// metadataEntryCbor is db-sync's tx_metadata.bytes: the CBOR of the one-entry
// map {label: value} (its serialiseTxMetadataToCbor of Map.singleton key md),
// with the value's bytes as they are on chain.
func metadataEntryCbor(label uint64, value []byte) []byte {
	out := make([]byte, 0, 10+len(value))
	out = append(out, 0xa1) // a map of one pair
	switch {
	case label < 24:
		out = append(out, byte(label))
	case label <= 0xff:
		out = append(out, 0x18, byte(label))
	case label <= 0xffff:
		out = append(out, 0x19, byte(label>>8), byte(label))
	case label <= 0xffffffff:
		out = append(out, 0x1a, byte(label>>24), byte(label>>16), byte(label>>8), byte(label))
	default:
		out = append(out, 0x1b, byte(label>>56), byte(label>>48), byte(label>>40), byte(label>>32),
			byte(label>>24), byte(label>>16), byte(label>>8), byte(label))
	}
	return append(out, value...)
}

func asMetaMap(md common.TransactionMetadatum) (common.MetaMap, bool) {
	switch m := md.(type) {
	case common.MetaMap:
		return m, true
	case *common.MetaMap:
		if m != nil {
			return *m, true
		}
	}
	return common.MetaMap{}, false
}

// metadataLabel returns a metadata map key as a label (a Word64 on the ledger).
func metadataLabel(k common.TransactionMetadatum) (uint64, bool) {
	var v *big.Int
	switch x := k.(type) {
	case common.MetaInt:
		v = x.Value
	case *common.MetaInt:
		if x != nil {
			v = x.Value
		}
	}
	if v == nil || v.Sign() < 0 || v.Cmp(maxUint64) > 0 {
		return 0, false
	}
	return v.Uint64(), true
}

// metadatumCbor returns a metadata value's CBOR as it appears on chain.
func metadatumCbor(md common.TransactionMetadatum) ([]byte, error) {
	if md == nil {
		return nil, errors.New("missing value")
	}
	if raw := md.Cbor(); len(raw) > 0 {
		return raw, nil
	}
	return nil, errors.New("value has no CBOR")
}

// MetadataJSON renders a metadata value as JSON text the way db-sync does
// (cardano-api's "no schema" conversion):
//
//   - integers are JSON numbers, exact at any size;
//   - text is a JSON string;
//   - bytes are a string "0x" followed by lowercase hex;
//   - lists are arrays;
//   - maps are objects. An integer key becomes its decimal text, a bytes key
//     its "0x..." text, a text key itself, and a list or map key its own JSON
//     text. Object keys are sorted and a repeated key keeps its last value.
//
// Strings are escaped as Haskell's aeson escapes them, so that keys built from
// structured values match db-sync's. ok is false when the value cannot be
// rendered (an unknown node, or a rendering larger than maxMetadataJSON).
func MetadataJSON(md common.TransactionMetadatum) (text string, ok bool) {
	e := metaJSON{budget: maxMetadataJSON}
	b, ok := e.value(nil, md)
	if !ok {
		return "", false
	}
	return string(b), true
}

// metaJSON renders metadata as JSON within a byte budget shared by every
// buffer it writes, nested key renderings included.
type metaJSON struct {
	budget int
}

func (e *metaJSON) spend(n int) bool {
	e.budget -= n
	return e.budget >= 0
}

func (e *metaJSON) value(b []byte, md common.TransactionMetadatum) ([]byte, bool) {
	// Each node spends what it writes itself; children spend their own.
	start := len(b)
	switch x := md.(type) {
	case common.MetaInt:
		if x.Value == nil {
			return b, false
		}
		b = x.Value.Append(b, 10)
	case *common.MetaInt:
		if x == nil {
			return b, false
		}
		return e.value(b, *x)
	case common.MetaBytes:
		b = append(b, `"0x`...)
		b = hex.AppendEncode(b, x.Value)
		b = append(b, '"')
	case *common.MetaBytes:
		if x == nil {
			return b, false
		}
		return e.value(b, *x)
	case common.MetaText:
		b = appendAesonString(b, x.Value)
	case *common.MetaText:
		if x == nil {
			return b, false
		}
		return e.value(b, *x)
	case common.MetaList:
		return e.list(b, x)
	case *common.MetaList:
		if x == nil {
			return b, false
		}
		return e.list(b, *x)
	case common.MetaMap:
		return e.object(b, x)
	case *common.MetaMap:
		if x == nil {
			return b, false
		}
		return e.object(b, *x)
	default:
		return b, false
	}
	return b, e.spend(len(b) - start)
}

func (e *metaJSON) list(b []byte, l common.MetaList) ([]byte, bool) {
	if !e.spend(len(l.Items) + 2) { // brackets and commas
		return b, false
	}
	b = append(b, '[')
	for i, item := range l.Items {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = e.value(b, item); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

func (e *metaJSON) object(b []byte, m common.MetaMap) ([]byte, bool) {
	type entry struct {
		key  string
		pair int
	}
	entries := make([]entry, 0, len(m.Pairs))
	index := make(map[string]int, len(m.Pairs))
	for i, p := range m.Pairs {
		k, ok := e.key(p.Key)
		if !ok {
			return b, false
		}
		if j, dup := index[k]; dup {
			entries[j].pair = i
			continue
		}
		index[k] = len(entries)
		entries = append(entries, entry{key: k, pair: i})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	b = append(b, '{')
	for i, en := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		b = appendAesonString(b, en.key)
		b = append(b, ':')
		if !e.spend(len(b) - start) {
			return b, false
		}
		var ok bool
		if b, ok = e.value(b, m.Pairs[en.pair].Value); !ok {
			return b, false
		}
	}
	return append(b, '}'), e.spend(2)
}

// key renders a map key as the text of a JSON object key.
func (e *metaJSON) key(k common.TransactionMetadatum) (string, bool) {
	switch x := k.(type) {
	case common.MetaText:
		return x.Value, true
	case *common.MetaText:
		if x == nil {
			return "", false
		}
		return e.key(*x)
	case common.MetaInt, *common.MetaInt, common.MetaBytes, *common.MetaBytes:
		// Their JSON is a number or a string without escapes: the key is
		// that text, less the quotes of a string.
		b, ok := e.value(nil, k)
		return strings.Trim(string(b), `"`), ok
	}
	b, ok := e.value(nil, k)
	return string(b), ok
}

// appendAesonString appends s as a JSON string escaped as aeson escapes it:
// quote, backslash, \n, \r and \t by name, other control characters as
// \u00XX, everything else as is. Invalid UTF-8 becomes U+FFFD.
func appendAesonString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
