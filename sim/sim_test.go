package sim_test

import (
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/dbtest/toxitest"
	"github.com/nectar-indexer/nectar/sim"
)

var (
	seeds  = flag.Int("sim.seeds", 5, "schedules to run, seeds sim.first to sim.first+sim.seeds-1")
	first  = flag.Uint64("sim.first", 1, "the first seed")
	seed   = flag.Uint64("sim.seed", 0, "run only this seed (replays a failure)")
	engine = flag.String("sim.db", "", "tidb or mariadb (default: mariadb when configured, else tidb)")
)

// TestSimulation runs seeded schedules of the whole pipeline with faults
// and checks each against a clean load (package sim). `make test` runs five
// seeds; `make sim SEEDS=N` soaks.
func TestSimulation(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	// Cut connections are the point: the driver's log of each is noise.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	srv := servers[len(servers)-1]
	for _, s := range servers {
		if s.Name == *engine {
			srv = s
		}
	}
	base, err := nodesim.LoadChunks(filepath.Join("..", "testdata", "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	env := &sim.Env{Base: base}
	_, cfg := srv.Open(t)
	env.Proxy = toxitest.Start(t, cfg.Addr)
	cfg.Addr = env.Proxy.Addr()
	env.DB = dbtest.OpenConfig(t, cfg)
	env.Ref, _ = srv.Open(t)
	if os.Getenv("NECTAR_TEST_LOG") != "" {
		env.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	list := make([]uint64, 0, *seeds)
	for i := range *seeds {
		list = append(list, *first+uint64(i))
	}
	if *seed != 0 {
		list = []uint64{*seed}
	}
	faults := map[string]int{}
	var divergent []uint64
	var took time.Duration
	for _, sd := range list {
		sched := sim.NewSchedule(sd, len(base))
		res := sim.Run(t, env, sched)
		took += res.Took
		for k, n := range res.Faults {
			faults[k] += n
		}
		t.Logf("seed %d: %d blocks, %d faults, %s, %d divergences", sd, res.Blocks, sum(res.Faults), res.Took.Round(time.Millisecond), len(res.Divergences))
		for _, n := range res.Notes {
			t.Logf("seed %d: %s", sd, n)
		}
		if len(res.Divergences) > 0 {
			divergent = append(divergent, sd)
			t.Errorf("seed %d diverged:\n  %s\n%s\nreplay: make sim SEED=%d   (go test -count=1 -run TestSimulation ./sim/ -sim.seed=%d -sim.db=%s)",
				sd, strings.Join(res.Divergences, "\n  "), sched, sd, sd, srv.Name)
		}
	}
	var kinds []string
	for k, n := range faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("%d schedules on %s in %s, %d faults injected (%s), %d divergent %v",
		len(list), srv.Name, took.Round(time.Second), sum(faults), strings.Join(kinds, ", "), len(divergent), divergent)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
