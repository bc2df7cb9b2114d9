package chain_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// Every block of the chains shipped in testdata (59,315 preview blocks and
// the mainnet chunks: Byron, Shelley, Conway, each directory one contiguous
// stretch) decodes: none would be quarantined, and the blocks of a directory
// link up by previous hash.
func TestShippedChainsDecode(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/chains/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		c := struct {
			dir string
			net chain.Network
		}{dir, chain.Preview}
		if strings.HasPrefix(filepath.Base(dir), "mainnet") {
			c.net = chain.Mainnet
		}
		t.Run(filepath.Base(c.dir), func(t *testing.T) {
			chunks, err := immutable.Chunks(c.dir)
			if err != nil {
				t.Fatal(err)
			}
			var n, scripts int
			var prev []byte
			for _, path := range chunks {
				blocks, err := immutable.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range blocks {
					d, err := chain.DecodeBlock(c.net, b.Type, b.CBOR)
					if err != nil {
						t.Fatalf("%s block %d: %v", filepath.Base(path), i, err)
					}
					if prev != nil && string(d.PrevHash) != string(prev) {
						t.Fatalf("%s block %d (slot %d): previous hash %x, the block before is %x", filepath.Base(path), i, d.Slot, d.PrevHash, prev)
					}
					prev = d.Hash
					n++
					scripts += len(d.Rows[chain.Script])
				}
			}
			if n == 0 {
				t.Fatalf("no blocks in %s", c.dir)
			}
			t.Logf("%d blocks decoded, %d script rows", n, scripts)
		})
	}
}
