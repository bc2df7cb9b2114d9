package chainref

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/nectar-indexer/nectar/shared/immutable"
)

// Chunk is one ImmutableDB chunk file of testdata/chains, read by the reference.
type Chunk struct {
	Dir     string // the directory: preview, mainnet, mainnet-byron, mainnet-shelley
	Network string // the network: the directory up to its first '-'
	Name    string // e.g. 00000.chunk
	Blocks  []*Block
}

// Fixture is one single-block fixture of testdata/blocks with its row of
// index.tsv.
type Fixture struct {
	File      string // relative to testdata/blocks
	BlockType uint
	Network   string
	Slot      uint64
	BlockNo   uint64
	Hash      []byte
	Size      int
	Counts    map[string]int // txs, certs, redeemers, … as index.tsv names them
	Block     *Block
}

// Shipped is every block shipped in testdata, read by the reference.
type Shipped struct {
	Chunks   []Chunk
	Fixtures []Fixture
}

// ReadChunk reads every block of one chunk file.
func ReadChunk(path string) ([]*Block, error) {
	raw, err := immutable.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]*Block, len(raw))
	for i, r := range raw {
		b, err := DecodeBlock(r.Type, r.CBOR)
		if err != nil {
			return nil, fmt.Errorf("%s block %d: %w", filepath.Base(path), i, err)
		}
		out[i] = b
	}
	return out, nil
}

// ReadShipped reads every shipped block under testdata (the repository's
// testdata directory): each chunk of chains/<network>/ and each fixture of
// blocks/index.tsv. Chunks are read in parallel.
func ReadShipped(testdata string) (*Shipped, error) {
	var s Shipped
	dirs, err := os.ReadDir(filepath.Join(testdata, "chains"))
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	var paths []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		ps, err := immutable.Chunks(filepath.Join(testdata, "chains", d.Name()))
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			paths = append(paths, p)
			net, _, _ := strings.Cut(d.Name(), "-")
			s.Chunks = append(s.Chunks, Chunk{Dir: d.Name(), Network: net, Name: filepath.Base(p)})
		}
	}
	errs := make([]error, len(paths))
	work := make(chan int)
	var wg sync.WaitGroup
	// One worker per CPU: decoding is CPU-bound and each chunk is independent.
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				s.Chunks[i].Blocks, errs[i] = ReadChunk(paths[i])
			}
		}()
	}
	for i := range paths {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if s.Fixtures, err = ReadFixtures(testdata); err != nil {
		return nil, err
	}
	return &s, nil
}

// ReadFixtures reads blocks/index.tsv and decodes each fixture block with
// the block type its row gives.
func ReadFixtures(testdata string) ([]Fixture, error) {
	dir := filepath.Join(testdata, "blocks")
	rows, err := readTSV(filepath.Join(dir, "index.tsv"))
	if err != nil {
		return nil, err
	}
	var out []Fixture
	for _, r := range rows {
		f := Fixture{File: r["fixture"], Network: r["network"], Counts: map[string]int{}}
		var bt uint64
		var err error
		if bt, err = strconv.ParseUint(r["block_type"], 10, 8); err == nil {
			if f.Slot, err = strconv.ParseUint(r["slot"], 10, 64); err == nil {
				if f.BlockNo, err = strconv.ParseUint(r["block_no"], 10, 64); err == nil {
					if f.Hash, err = hex.DecodeString(r["hash"]); err == nil {
						f.Size, err = strconv.Atoi(r["size"])
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("index.tsv %s: %w", f.File, err)
		}
		f.BlockType = uint(bt)
		for k, v := range r {
			if n, err := strconv.Atoi(v); err == nil && k != "block_type" && k != "slot" && k != "block_no" && k != "size" {
				f.Counts[k] = n
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			return nil, fmt.Errorf("read fixture: %w", err)
		}
		if f.Block, err = DecodeBlock(f.BlockType, raw); err != nil {
			return nil, fmt.Errorf("fixture %s: %w", f.File, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// SummaryRow is one row of testdata/chains/SUMMARY.tsv: per chunk, the
// published counts and first and last points.
type SummaryRow struct {
	Dir, Chunk                 string
	Blocks                     int
	Eras                       string
	FirstSlot, LastSlot        uint64
	FirstBlockNo, LastBlockNo  uint64
	FirstHash, LastHash        string
	PrevHashBreaks, DecodeErrs int
	Txs                        int
}

// ReadSummary reads testdata/chains/SUMMARY.tsv.
func ReadSummary(testdata string) ([]SummaryRow, error) {
	rows, err := readTSV(filepath.Join(testdata, "chains", "SUMMARY.tsv"))
	if err != nil {
		return nil, err
	}
	out := make([]SummaryRow, 0, len(rows))
	for _, r := range rows {
		s := SummaryRow{Dir: r["dir"], Chunk: r["chunk"], Eras: r["eras"], FirstHash: r["first_hash"], LastHash: r["last_hash"]}
		var err error
		num := func(k string, dst *uint64) {
			if err == nil {
				*dst, err = strconv.ParseUint(r[k], 10, 64)
			}
		}
		var blocks, breaks, errs, txs uint64
		num("blocks", &blocks)
		num("first_slot", &s.FirstSlot)
		num("last_slot", &s.LastSlot)
		num("first_block_no", &s.FirstBlockNo)
		num("last_block_no", &s.LastBlockNo)
		num("prev_hash_breaks_within_chunk", &breaks)
		num("decode_errors", &errs)
		num("txs", &txs)
		if err != nil {
			return nil, fmt.Errorf("SUMMARY.tsv %s/%s: %w", s.Dir, s.Chunk, err)
		}
		s.Blocks, s.PrevHashBreaks, s.DecodeErrs, s.Txs = int(blocks), int(breaks), int(errs), int(txs)
		out = append(out, s)
	}
	return out, nil
}

// readTSV reads a tab-separated file with a header line into one map per row.
func readTSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var header []string
	var out []map[string]string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		out = append(out, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return out, nil
}
