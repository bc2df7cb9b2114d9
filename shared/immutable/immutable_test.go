package immutable

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConwayChunk(t *testing.T) {
	blocks, err := ReadFile(filepath.Join("..", "..", "testdata", "chains", "mainnet", "06189.chunk"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1054 {
		t.Fatalf("read %d blocks, want 1054", len(blocks))
	}
	for i, b := range blocks {
		if b.Type != 7 {
			t.Fatalf("block %d has era tag %d, want 7 (Conway)", i, b.Type)
		}
	}
}

func TestReadPreviewChunks(t *testing.T) {
	chunks, err := Chunks(filepath.Join("..", "..", "testdata", "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range chunks {
		blocks, err := ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		n += len(blocks)
	}
	// SUMMARY.tsv: the 300 preview chunks hold 59,315 blocks.
	if want := 59315; n != want {
		t.Fatalf("read %d blocks from %d chunks, want %d", n, len(chunks), want)
	}
}

func TestTruncatedChunk(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "chains", "preview", "00000.chunk"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader("00000.chunk", bytes.NewReader(raw[:len(raw)-100]))
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("truncated chunk read to EOF after %d blocks without an error", n)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "00000.chunk block 215") {
				t.Errorf("error %q does not name the chunk and block", err)
			}
			break
		}
		n++
	}
	if n != 215 {
		t.Errorf("read %d whole blocks before the cut, want 215", n)
	}
}
