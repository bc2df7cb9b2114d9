package chain

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir is the repository's copy of the real chain data.
const fixtureDir = "../../testdata"

// fixtureBlock is one row of testdata/blocks/index.tsv.
type fixtureBlock struct {
	File      string
	BlockType uint
	Era       string
	Network   string
	Slot      uint64
	Hash      string
	Counts    map[string]int // txs, certs, redeemers, ... as named in the header
}

func loadIndex(tb testing.TB) []fixtureBlock {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, "blocks", "index.tsv"))
	if err != nil {
		tb.Fatalf("open index: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var header []string
	var out []fixtureBlock
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		fb := fixtureBlock{File: cols[0], Era: cols[2], Network: cols[3], Hash: cols[6], Counts: map[string]int{}}
		bt, _ := strconv.Atoi(cols[1])
		fb.BlockType = uint(bt)
		fb.Slot, _ = strconv.ParseUint(cols[4], 10, 64)
		for i := 8; i <= 22 && i < len(cols); i++ {
			n, err := strconv.Atoi(cols[i])
			if err != nil {
				tb.Fatalf("index %s column %s: %v", fb.File, header[i], err)
			}
			fb.Counts[header[i]] = n
		}
		out = append(out, fb)
	}
	if len(out) != 161 {
		tb.Fatalf("index has %d blocks, want 161", len(out))
	}
	return out
}

func (fb fixtureBlock) network() Network {
	if n, err := NetworkByName(fb.Network); err == nil {
		return n
	}
	return UnknownNetwork(fb.Network, fb.Network != "unknown")
}

func (fb fixtureBlock) read(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "blocks", fb.File))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// cell returns the value of the named column of a row of table tab.
func cell(tab TableID, row []any, name string) any {
	for i, c := range Tables[tab].Columns {
		if c == name {
			return row[i]
		}
	}
	panic("chain: table " + Tables[tab].Name + " has no column " + name)
}

// era is the fixture block's era, from its block type.
func (fb fixtureBlock) era(tb testing.TB) Era {
	tb.Helper()
	e, ok := EraOfBlockType(fb.BlockType)
	if !ok {
		tb.Fatalf("%s: block type %d has no era", fb.File, fb.BlockType)
	}
	return e
}
