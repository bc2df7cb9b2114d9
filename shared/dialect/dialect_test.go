package dialect

import (
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	tests := []struct {
		rule, in, want string
	}{
		{"prompt", "# with c as (select 1) select * from c", "with c as (select 1) select * from c"},
		{"prompt", "select 1 # not at the start", "select 1 # not at the start"},
		{"bytea-literal", `where tx.hash = '\xf9c0997A'`, `where tx.hash = X'f9c0997A'`},
		{"bytea-literal", `where s = 'x\xyz'`, `where s = 'x\xyz'`},
		{"encode-hex", "select encode(tx.hash, 'hex') from tx", "select LOWER(HEX(tx.hash)) from tx"},
		{"encode-hex", "select encode(substring(b.hash from 1 for 4),'hex')", "select LOWER(HEX(substring(b.hash from 1 for 4)))"},
		{"encode-hex", "select encode(x, 'base64')", "select encode(x, 'base64')"},
		{"encode-hex", "select encode(a, 'hex'), encode(b, 'hex')", "select LOWER(HEX(a)), LOWER(HEX(b))"},
		{"decode-hex", "where hash = decode('f9c0', 'hex')", "where hash = UNHEX('f9c0')"},
		{"call-space", "select sum (value) / 1000000, count (*) from tx_out", "select sum(value) / 1000000, count(*) from tx_out"},
		{"call-space", "where not exists ( select 1 ) and x in (1) and cast ((case", "where not exists ( select 1 ) and x in (1) and cast((case"},
		{"call-space", "select 'sum (x)' from t", "select 'sum (x)' from t"},
		{"call-space", "from (select 1) as a, (select 2) as b", "from (select 1) as a, (select 2) as b"},
		{"double-colon-cast", "sum(ma_tx_mint.quantity::numeric)", "sum(CAST(ma_tx_mint.quantity AS DECIMAL(65,0)))"},
		{"double-colon-cast", "select (a + b)::text, '5'::int", "select CAST((a + b) AS CHAR), CAST('5' AS SIGNED)"},
		{"double-colon-cast", "select count(*)::bigint", "select CAST(count(*) AS SIGNED)"},
		{"double-colon-cast", "select x::regclass", "select x::regclass"},
		{"cast-type", "cast((case when 1 then 'a' end) as varchar) as origin", "cast((case when 1 then 'a' end) AS CHAR) as origin"},
		{"cast-type", "select 1 as text, cast(x as integer)", "select 1 as text, cast(x AS SIGNED)"},
		{"double-quoted-identifier", `block."time" AS created`, "block.`time` AS created"},
		{"concat", "select a.x || '-' || lower(b.y) from t", "select CONCAT(a.x, '-', lower(b.y)) from t"},
		{"concat", "select 'a||b' from t", "select 'a||b' from t"},
		{"row-is-null", "WHERE (de.tx_id < re.tx_id OR de.* IS NULL)", "WHERE (de.tx_id < re.tx_id OR de.id IS NULL)"},
		{"row-is-null", "where x.* is not null", "where x.id IS NOT NULL"},
		{"to-timestamp", "select to_timestamp('2020-10-10 17:00:00', 'YYYY-MM-DD HH24:MI:SS') as t",
			"select STR_TO_DATE('2020-10-10 17:00:00', '%Y-%m-%d %H:%i:%s') as t"},
		{"to-timestamp", "select to_timestamp(1600000000)", "select FROM_UNIXTIME(1600000000)"},
		{"at-time-zone-utc", "max(time) at time zone 'UTC'", "max(time)"},
		{"extract-epoch", "extract(epoch from (max(time)))", "UNIX_TIMESTAMP((max(time)))"},
		{"timestamp-minus", "select now() - max(time) as behind_by", "select TIMESTAMPDIFF(SECOND, max(time), now()) as behind_by"},
	}
	rules := map[string]Rule{}
	for _, r := range Rules {
		rules[r.Name] = r
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r, ok := rules[tt.rule]
			if !ok {
				t.Fatalf("no rule %q", tt.rule)
			}
			if got := r.Apply(tt.in); got != tt.want {
				t.Errorf("%s:\n in   %s\n got  %s\n want %s", tt.rule, tt.in, got, tt.want)
			}
		})
	}
	// Every rule is tested.
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.rule] = true
	}
	for _, r := range Rules {
		if !seen[r.Name] {
			t.Errorf("rule %s has no test", r.Name)
		}
		if r.Why == "" {
			t.Errorf("rule %s gives no reason", r.Name)
		}
	}
}

// Rules applied together, in order, on queries of db-sync's docs.
func TestRewrite(t *testing.T) {
	tests := []struct {
		name, in, want string
		applied        []string
	}{
		{"sync progress",
			"select 100 * (extract (epoch from (max (time) at time zone 'UTC')) - extract (epoch from (min (time) at time zone 'UTC'))) / (extract (epoch from (now () at time zone 'UTC')) - 1) as p from block ;",
			"select 100 * (UNIX_TIMESTAMP((max(time))) - UNIX_TIMESTAMP((min(time)))) / (UNIX_TIMESTAMP((now())) - 1) as p from block ;",
			[]string{"call-space", "at-time-zone-utc", "extract-epoch"}},
		{"behind by", "select now () - max (time) as behind_by from block ;",
			"select TIMESTAMPDIFF(SECOND, max(time), now()) as behind_by from block ;",
			[]string{"call-space", "timestamp-minus"}},
		{"tx fee", `select tx.id, tx.fee from tx where tx.hash = '\xf9c0' ;`,
			"select tx.id, tx.fee from tx where tx.hash = X'f9c0' ;",
			[]string{"bytea-literal"}},
		{"historical utxo", "# with const as (select to_timestamp ('2020-10-10 17:00:00', 'YYYY-MM-DD HH24:MI:SS') as e)\n  select 1 from const",
			"with const as (select STR_TO_DATE('2020-10-10 17:00:00', '%Y-%m-%d %H:%i:%s') as e)\n  select 1 from const",
			[]string{"prompt", "call-space", "to-timestamp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, applied, err := Rewrite(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("\n got  %s\n want %s", got, tt.want)
			}
			if strings.Join(applied, ",") != strings.Join(tt.applied, ",") {
				t.Errorf("applied %v, want %v", applied, tt.applied)
			}
		})
	}
}

func TestRewriteReportsManual(t *testing.T) {
	for _, q := range []string{
		"select distinct on(block.hash) block.hash from block order by block.hash",
		"select pg_size_pretty (pg_database_size ('cexplorer'))",
	} {
		if _, _, err := Rewrite(q); err == nil || !strings.Contains(err.Error(), "rewrite by hand") {
			t.Errorf("%s: got %v, want a rewrite-by-hand error", q, err)
		}
	}
	if _, _, err := Rewrite("select 'distinct on (x)' from t"); err != nil {
		t.Errorf("a literal is not code: %v", err)
	}
}

// Rewrite never panics and always ends; what it returns is for the database
// to judge.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		"select sum (value) from tx_out where hash = '\\xab' and x.* is null",
		"select a || b || (c", "select now() - ", "select x::", "select encode(a, 'hex'",
		"select to_timestamp(", "# with c as (select extract (epoch from (now () at time zone 'UTC')))",
		"select 'unterminated", "select \"a\" || 'b''c' -- x || y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, _, _ = Rewrite(q)
	})
}
