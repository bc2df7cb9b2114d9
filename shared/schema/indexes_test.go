package schema

import (
	"regexp"
	"strings"
	"testing"
)

// Every query index is named <table>_…, uniquely, with columns the
// migrations create (TiDB and MariaDB check that when they build them:
// shared/indexes' tests build the whole list).
func TestQueryIndexes(t *testing.T) {
	ident := regexp.MustCompile(`^[a-z][a-z0-9_]*(\([0-9]+\))?$`)
	names := map[string]bool{}
	for _, ix := range QueryIndexes {
		if !strings.HasPrefix(ix.Name, ix.Table+"_") {
			t.Errorf("%s: name does not start with its table %s", ix.Name, ix.Table)
		}
		if names[ix.Name] {
			t.Errorf("%s: listed twice", ix.Name)
		}
		names[ix.Name] = true
		if len(ix.Columns) == 0 {
			t.Errorf("%s: no columns", ix.Name)
		}
		for _, c := range ix.Columns {
			if !ident.MatchString(c) {
				t.Errorf("%s: column %q is not a lower-case name with an optional (prefix length)", ix.Name, c)
			}
		}
	}
}
