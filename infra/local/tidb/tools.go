//go:build tools

// Package tidbbuild pins TiDB v8.5.6 so that tidb-server can be built from
// the Go module proxy, separately from Nectar's own module. See
// infra/local/build-tidb.sh.
package tidbbuild

import (
	_ "github.com/pingcap/tidb/pkg/server"
)
