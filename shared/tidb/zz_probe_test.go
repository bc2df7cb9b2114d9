package tidb_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/dbtest/toxitest"
	"github.com/nectar-indexer/nectar/shared/tidb"
)

func BenchmarkZZSizes(b *testing.B) {
	srv := dbtest.Servers(b)[0]
	all := chunkBatches(b, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)
	batches := all[:5]
	rows := 0
	for _, n := range expectedCounts(batches) {
		rows += int(n)
	}
	proxy := toxitest.Start(b, net.JoinHostPort(srv.Host, srv.Port))
	lat, _ := strconv.Atoi(os.Getenv("LAT"))
	proxy.SetLatency(b, time.Duration(lat)*time.Millisecond)
	for _, f := range strings.Split(os.Getenv("SIZES"), ",") {
		n, _ := strconv.Atoi(f)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, cfg := srv.Open(b)
			db := proxiedDB(b, cfg, proxy.Addr())
			store := tidb.New(db, tidb.Options{StatementRows: n, MinStatementRows: n, MaxStatementRows: n})
			start := time.Now()
			for _, bt := range batches {
				if _, err := store.ApplyBatch(context.Background(), bt); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			st := store.Stats()
			b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(st.Statements), "stmts")
			b.ReportMetric(st.DBTime.Seconds(), "dbsec")
		})
	}
}
