package follower

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// ChunkSource replays ImmutableDB chunk files (a node's db/immutable or a
// Mithril snapshot). Every block in them is final.
type ChunkSource struct {
	Dir string
}

// Follow implements Source. It reads every chunk in order; with points, it
// skips blocks until it reaches one of them.
func (s *ChunkSource) Follow(ctx context.Context, points []chain.Point, out chan<- Event) error {
	chunks, err := immutable.Chunks(s.Dir)
	if err != nil {
		return err
	}
	want := map[string]chain.Point{}
	for _, p := range points {
		if p.Hash != nil {
			want[string(p.Hash)] = p
		}
	}
	found := len(want) == 0
	var prev []byte
	send := func(e Event) error {
		select {
		case out <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if found {
		if err := send(Event{Point: chain.Point{}}); err != nil {
			return err
		}
	}
	for _, path := range chunks {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open chunk: %w", err)
		}
		r := immutable.NewReader(filepath.Base(path), f)
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return err
			}
			h, err := chain.ReadHeader(b.Type, b.CBOR)
			if err != nil {
				f.Close()
				return fmt.Errorf("chunk %s: block after %x: %w", filepath.Base(path), prev, err)
			}
			if prev != nil && !bytes.Equal(h.PrevHash, prev) {
				f.Close()
				return fmt.Errorf("chunk %s: block %s does not follow %x", filepath.Base(path), h.Point, prev)
			}
			prev = h.Point.Hash
			if !found {
				if p, ok := want[string(h.Point.Hash)]; ok && p.Slot == h.Point.Slot {
					found = true
					if err := send(Event{Point: h.Point}); err != nil {
						f.Close()
						return err
					}
				}
				continue
			}
			if err := send(Event{Forward: true, Block: batch.Block{Type: b.Type, CBOR: b.CBOR}, Header: h, Immutable: true}); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	if !found {
		return ErrIntersectNotFound
	}
	return ErrSourceDone
}
