package follower

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// ChunkSource replays ImmutableDB chunk files (a node's db/immutable or a
// Mithril snapshot). Every block in them is final.
type ChunkSource struct {
	Dir    string
	Logger *slog.Logger // nil discards
}

// Follow implements Source. It intersects at the newest of points found in
// the chunk files and streams every block after it. When the newest point
// is at or beyond the last chunk's last block, it reads only that chunk and
// is done: the next source (the node) continues from the cursor. To find a
// point inside the files it reads the first block of O(log n) chunks and
// then the one chunk that holds the point, not every chunk before it.
func (s *ChunkSource) Follow(ctx context.Context, points []chain.Point, out chan<- Event) error {
	paths, err := immutable.Chunks(s.Dir)
	if err != nil {
		return err
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	send := func(e Event) error {
		select {
		case out <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var want []chain.Point
	for _, p := range points {
		if p.Hash != nil {
			want = append(want, p)
		}
	}
	if len(want) == 0 {
		if err := send(Event{Point: chain.Point{}}); err != nil {
			return err
		}
		return s.stream(ctx, paths, 0, nil, send)
	}
	sort.SliceStable(want, func(i, j int) bool { return want[i].Slot > want[j].Slot })

	idx := chunkIndex{paths: paths, first: make([]*chunkFirst, len(paths))}
	end, err := lastHeader(paths)
	if err != nil {
		return err
	}
	switch {
	case end != nil && samePoint(want[0], end.Point):
		if err := send(Event{Point: end.Point}); err != nil {
			return err
		}
		return ErrSourceDone
	case end != nil && want[0].Slot >= end.Point.Slot:
		log.Info("cursor is beyond the chunk files: nothing to read", "cursor", want[0].String(), "chunks_end", end.Point.String())
		return ErrSourceDone
	}
	for _, p := range want {
		if end == nil || p.Slot > end.Point.Slot {
			continue
		}
		found, at, err := idx.find(p)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if err := send(Event{Point: p}); err != nil {
			return err
		}
		return s.stream(ctx, paths, at, p.Hash, send)
	}
	return ErrIntersectNotFound
}

// stream sends every block of paths[from:], starting after the block whose
// hash is after when it is set (it is in paths[from]), and checks that each
// block follows the one before.
func (s *ChunkSource) stream(ctx context.Context, paths []string, from int, after []byte, send func(Event) error) error {
	prev, skipping := after, after != nil
	for _, path := range paths[from:] {
		err := eachBlock(path, func(b immutable.Block, h chain.Header) (bool, error) {
			if skipping {
				skipping = !bytes.Equal(h.Point.Hash, after)
				return true, nil
			}
			if prev != nil && !bytes.Equal(h.PrevHash, prev) {
				return false, fmt.Errorf("chunk %s: block %s does not follow %x", filepath.Base(path), h.Point, prev)
			}
			prev = h.Point.Hash
			if err := send(Event{Forward: true, Block: batch.Block{Type: b.Type, CBOR: b.CBOR}, Header: h, Immutable: true}); err != nil {
				return false, err
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	if skipping {
		return fmt.Errorf("chunk %s: block %x vanished while reading", filepath.Base(paths[from]), after)
	}
	return ErrSourceDone
}

// eachBlock calls fn with every block of a chunk file and its header until
// fn returns false or an error.
func eachBlock(path string, fn func(immutable.Block, chain.Header) (bool, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open chunk: %w", err)
	}
	defer f.Close()
	// Reads of at most 64 KiB: reading the first block of a chunk reads
	// about that block, not the 1 MiB the reader buffers.
	r := immutable.NewReader(filepath.Base(path), smallReads{f})
	for n := 0; ; n++ {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		h, err := chain.ReadHeader(b.Type, b.CBOR)
		if err != nil {
			return fmt.Errorf("chunk %s: block %d: %w", filepath.Base(path), n, err)
		}
		more, err := fn(b, h)
		if err != nil || !more {
			return err
		}
	}
}

type smallReads struct{ r io.Reader }

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 64<<10)]) }

// lastHeader returns the header of the last block of the chunk files: of
// the last chunk, or of the last non-empty one (nil when all are empty).
func lastHeader(paths []string) (*chain.Header, error) {
	for i := len(paths) - 1; i >= 0; i-- {
		var last *chain.Header
		err := eachBlock(paths[i], func(_ immutable.Block, h chain.Header) (bool, error) {
			last = &h
			return true, nil
		})
		if err != nil || last != nil {
			return last, err
		}
	}
	return nil, nil
}

type chunkFirst struct {
	empty bool
	slot  uint64
}

// chunkIndex finds chunks by slot from their first blocks, read on demand.
type chunkIndex struct {
	paths []string
	first []*chunkFirst
}

func (c *chunkIndex) firstSlot(i int) (chunkFirst, error) {
	if c.first[i] == nil {
		cf := &chunkFirst{empty: true}
		err := eachBlock(c.paths[i], func(_ immutable.Block, h chain.Header) (bool, error) {
			cf.empty, cf.slot = false, h.Point.Slot
			return false, nil
		})
		if err != nil {
			return chunkFirst{}, err
		}
		c.first[i] = cf
	}
	return *c.first[i], nil
}

// find reports whether p is a block of the chunk files and the index of
// the chunk holding it: the last chunk starting at or before p's slot, or
// the one before it when p's slot starts that chunk (slots repeat at a
// Byron epoch boundary).
func (c *chunkIndex) find(p chain.Point) (bool, int, error) {
	var ferr error
	// The first chunk that starts after p's slot; empty chunks count as
	// starting where the next non-empty one does.
	after := sort.Search(len(c.paths), func(i int) bool {
		for j := i; j < len(c.paths); j++ {
			cf, err := c.firstSlot(j)
			if err != nil {
				ferr = err
				return true
			}
			if !cf.empty {
				return cf.slot > p.Slot
			}
		}
		return true
	})
	if ferr != nil {
		return false, 0, ferr
	}
	for i := after - 1; i >= 0 && i >= after-2; i-- {
		found := false
		err := eachBlock(c.paths[i], func(_ immutable.Block, h chain.Header) (bool, error) {
			if h.Point.Slot > p.Slot {
				return false, nil
			}
			found = bytes.Equal(h.Point.Hash, p.Hash) && h.Point.Slot == p.Slot
			return !found, nil
		})
		if err != nil {
			return false, 0, err
		}
		if found {
			return true, i, nil
		}
		if cf, err := c.firstSlot(i); err != nil || cf.empty || cf.slot < p.Slot {
			return false, 0, err
		}
	}
	return false, 0, nil
}
