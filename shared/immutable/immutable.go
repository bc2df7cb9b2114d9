// Package immutable reads Cardano ImmutableDB chunk files: each NNNNN.chunk
// is a concatenation of hard-fork-combinator-wrapped blocks, [era_tag, block].
// The .primary and .secondary index files are not trusted (they can disagree
// with the chunk); the chunk's CBOR is read directly.
package immutable

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// DefaultMaxBlockBytes bounds one block read from a chunk.
const DefaultMaxBlockBytes = 8 << 20

// Block is one block read from a chunk: its era tag (the chain-sync block type) and raw CBOR.
type Block struct {
	Type uint
	CBOR []byte
}

var decMode, _ = cbor.DecOptions{
	MaxArrayElements: 1 << 20,
	MaxMapPairs:      1 << 20,
	MaxNestedLevels:  256,
}.DecMode()

// Reader reads blocks one at a time from a chunk stream.
type Reader struct {
	name string
	dec  *cbor.Decoder
	n    int
}

// NewReader reads the chunk stream r; name is used in errors.
func NewReader(name string, r io.Reader) *Reader {
	return &Reader{name: name, dec: decMode.NewDecoder(bufio.NewReaderSize(r, 1<<20))}
}

// Next returns the next block, or io.EOF after the last one.
func (r *Reader) Next() (Block, error) {
	var raw cbor.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Block{}, io.EOF
		}
		return Block{}, fmt.Errorf("chunk %s block %d: %w", r.name, r.n, err)
	}
	var wrapped struct {
		_     struct{} `cbor:",toarray"`
		Era   uint
		Block cbor.RawMessage
	}
	if err := decMode.Unmarshal(raw, &wrapped); err != nil {
		return Block{}, fmt.Errorf("chunk %s block %d: not an [era, block] pair: %w", r.name, r.n, err)
	}
	r.n++
	return Block{Type: wrapped.Era, CBOR: []byte(wrapped.Block)}, nil
}

// ReadFile returns every block of one chunk file.
func ReadFile(path string) ([]Block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open chunk: %w", err)
	}
	defer f.Close()
	r := NewReader(filepath.Base(path), f)
	var out []Block
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
}

// Chunks lists the chunk files of a directory in chunk order.
func Chunks(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".chunk") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no .chunk files in %s", dir)
	}
	return out, nil
}
