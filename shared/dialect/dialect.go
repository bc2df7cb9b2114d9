// Package dialect rewrites PostgreSQL queries written for cardano-db-sync so
// that they run on TiDB and MySQL/MariaDB against the <database>_dbsync views.
//
// The rewrite is mechanical: each Rule changes one PostgreSQL construct into
// its MySQL-dialect equivalent, without knowing the query's meaning. Rules
// apply in order, outside string literals and quoted identifiers unless the
// rule is about those. Constructs with no mechanical equivalent (DISTINCT ON,
// PostgreSQL's catalog functions) are reported by Rewrite, not rewritten.
// docs/queries.md lists the rules with their reasons.
package dialect

import (
	"fmt"
	"regexp"
	"strings"
)

// Rule is one mechanical change.
type Rule struct {
	Name string
	// Why the PostgreSQL form does not work (or silently gives another
	// answer) on TiDB and MySQL/MariaDB.
	Why   string
	apply func(string) string
}

// Apply applies the rule to a query.
func (r Rule) Apply(q string) string { return r.apply(q) }

// Rules are the mechanical changes, in the order Rewrite applies them.
var Rules = []Rule{
	{"prompt", "the doc shows a leading `#` (a psql prompt); in MySQL `#` starts a comment that swallows the line", dropPrompt},
	{"bytea-literal", "'\\x…' is PostgreSQL's bytea hex literal; in MySQL it is the text 'x…' (the backslash escapes x), so comparing a hash with it matches nothing", byteaLiteral},
	{"encode-hex", "encode(x, 'hex') → LOWER(HEX(x)); TiDB and MariaDB have their own ENCODE(str, pass), an obsolete encryption: it runs and returns bytes that match nothing", encodeHex},
	{"decode-hex", "decode('…', 'hex') → UNHEX('…'); MySQL's DECODE(str, pass) is the decryption of ENCODE", decodeHex},
	{"call-space", "no space between a function name and `(`: with MySQL's default sql_mode `sum (value)` is a syntax error or a call of an undefined stored function", callSpace},
	{"double-colon-cast", "x::type is PostgreSQL's cast; MySQL writes CAST(x AS type) with its own types (numeric → DECIMAL(65,0): a bare DECIMAL is DECIMAL(10,0) and clips)", doubleColonCast},
	{"cast-type", "CAST(… AS varchar|text) → CAST(… AS CHAR), AS integer|bigint → SIGNED, AS numeric → DECIMAL(65,0): MySQL's CAST takes only its own type names", castType},
	{"double-quoted-identifier", "\"ident\" → `ident`: in MySQL double quotes make a string, so block.\"time\" is a syntax error and select \"time\" returns the text 'time'", doubleQuoted},
	{"concat", "a || b → CONCAT(a, b): in MySQL || is logical OR and returns 0 or 1", concatPipes},
	{"row-is-null", "alias.* IS NULL → alias.id IS NULL: MySQL has no row-valued IS NULL; every db-sync table has a NOT NULL id, NULL exactly when an outer join found no row", rowIsNull},
	{"to-timestamp", "to_timestamp(text, format) → STR_TO_DATE(text, format) with MySQL's format letters; to_timestamp(seconds) → FROM_UNIXTIME(seconds)", toTimestamp},
	{"at-time-zone-utc", "x AT TIME ZONE 'UTC' → x: Nectar's DATETIMEs are UTC and a session must run with time_zone '+00:00'", atTimeZoneUTC},
	{"extract-epoch", "extract(epoch from x) → UNIX_TIMESTAMP(x): MySQL's EXTRACT has no epoch unit", extractEpoch},
	{"timestamp-minus", "now() - t → TIMESTAMPDIFF(SECOND, t, now()): MySQL subtracts two DATETIMEs as the numbers YYYYMMDDhhmmss (a silent wrong answer), and TIMEDIFF stops at 838:59:59; the answer is seconds where PostgreSQL gives an interval", timestampMinus},
}

// Manual is a construct with no mechanical rewrite.
type Manual struct {
	Name, Why string
	re        *regexp.Regexp
}

// Manuals are the constructs Rewrite reports instead of rewriting.
var Manuals = []Manual{
	{"distinct-on", "DISTINCT ON (k) keeps the first row of each k in ORDER BY order; MySQL has none: number the rows with ROW_NUMBER() OVER (PARTITION BY k ORDER BY …) in a derived table and keep rn = 1", regexp.MustCompile(`(?i)\bdistinct\s+on\s*\(`)},
	{"pg-catalog", "pg_* functions (pg_size_pretty, pg_database_size, …) read PostgreSQL's catalog; MySQL's is information_schema (TABLES.DATA_LENGTH, INDEX_LENGTH)", regexp.MustCompile(`(?i)\bpg_\w+\s*\(`)},
}

// Rewrite applies every rule to q and returns the result with the names of
// the rules that changed it. It reports an error naming each construct that
// needs a rewrite by hand.
func Rewrite(q string) (string, []string, error) {
	var applied []string
	for _, r := range Rules {
		out := r.apply(q)
		if out != q {
			applied = append(applied, r.Name)
		}
		q = out
	}
	var manual []string
	for _, m := range Manuals {
		if m.re.MatchString(maskQuoted(q)) {
			manual = append(manual, m.Name)
		}
	}
	if len(manual) > 0 {
		return q, applied, fmt.Errorf("rewrite by hand: %s", strings.Join(manual, ", "))
	}
	return strings.TrimSpace(q), applied, nil
}

// maskQuoted replaces the inside of string literals, double-quoted and
// backquoted identifiers and comments by spaces of the same length, so that
// rules can match the code alone and apply their edits at the same offsets.
func maskQuoted(q string) string {
	b := []byte(q)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(b) {
				if b[j] == c {
					if j+1 < len(b) && b[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			for k := i + 1; k < j && k < len(b); k++ {
				b[k] = ' '
			}
			i = j
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			for i < len(b) && b[i] != '\n' {
				b[i] = ' '
				i++
			}
		}
	}
	return string(b)
}

// replaceCode replaces the matches of re found in the code (outside quotes)
// with what f returns for the original text of the match and its submatches.
func replaceCode(q string, re *regexp.Regexp, f func(q string, m []int) string) string {
	masked := maskQuoted(q)
	var out strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(masked, -1) {
		out.WriteString(q[last:m[0]])
		out.WriteString(f(q, m))
		last = m[1]
	}
	out.WriteString(q[last:])
	return out.String()
}

// closing returns the index of the parenthesis closing the one at open, in
// code already masked, or -1.
func closing(masked string, open int) int {
	depth := 0
	for i := open; i < len(masked); i++ {
		switch masked[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

var promptRe = regexp.MustCompile(`^\s*#\s*`)

func dropPrompt(q string) string { return promptRe.ReplaceAllString(q, "") }

var byteaRe = regexp.MustCompile(`'\\x([0-9a-fA-F]*)'`)

func byteaLiteral(q string) string { return byteaRe.ReplaceAllString(q, "X'$1'") }

// callWith rewrites name(args…, 'lit') calls: f gets the call's arguments
// (split at top-level commas) and returns the replacement, or "" to keep it.
func callWith(q string, name *regexp.Regexp, f func(args []string) string) string {
	for start := 0; ; {
		masked := maskQuoted(q)
		loc := name.FindStringIndex(masked[start:])
		if loc == nil {
			return q
		}
		open := start + loc[1] - 1
		end := closing(masked, open)
		if end < 0 {
			return q
		}
		args := splitArgs(q[open+1:end], masked[open+1:end])
		if rep := f(args); rep != "" {
			q = q[:start+loc[0]] + rep + q[end+1:]
			start += loc[0] + len(rep)
		} else {
			start = end + 1
		}
	}
}

// splitArgs splits a call's argument text at its top-level commas.
func splitArgs(text, masked string) []string {
	var out []string
	depth, last := 0, 0
	for i := 0; i < len(masked); i++ {
		switch masked[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(text[last:i]))
				last = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(text[last:]))
}

var encodeRe = regexp.MustCompile(`(?i)\bencode\s*\(`)

func encodeHex(q string) string {
	return callWith(q, encodeRe, func(args []string) string {
		if len(args) == 2 && strings.EqualFold(args[1], "'hex'") {
			return "LOWER(HEX(" + args[0] + "))"
		}
		return ""
	})
}

var decodeRe = regexp.MustCompile(`(?i)\bdecode\s*\(`)

func decodeHex(q string) string {
	return callWith(q, decodeRe, func(args []string) string {
		if len(args) == 2 && strings.EqualFold(args[1], "'hex'") {
			return "UNHEX(" + args[0] + ")"
		}
		return ""
	})
}

// keywords may stand before a parenthesis with a space; anything else before
// one is a function name.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`select from where and or not in exists as on join union all any some
		values using when then else case is by having limit distinct with over like between into
		set table lateral intersect except group order asc desc inner left right outer cross full
		natural if returning window partition rows range filter within`) {
		keywords[k] = true
	}
}

var callSpaceRe = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\s+\(`)

func callSpace(q string) string {
	return replaceCode(q, callSpaceRe, func(q string, m []int) string {
		name := q[m[2]:m[3]]
		if keywords[strings.ToLower(name)] {
			return q[m[0]:m[1]]
		}
		return name + "("
	})
}

// mysqlType maps a PostgreSQL type name to MySQL's CAST target, or "".
func mysqlType(pg string) string {
	switch strings.ToLower(strings.TrimSpace(pg)) {
	case "numeric", "decimal":
		return "DECIMAL(65,0)"
	case "text", "varchar", "character varying", "char":
		return "CHAR"
	case "int", "integer", "int4", "bigint", "int8", "smallint", "int2":
		return "SIGNED"
	case "float", "float8", "double precision", "real", "float4":
		return "DOUBLE"
	case "date":
		return "DATE"
	case "timestamp", "timestamptz", "timestamp without time zone":
		return "DATETIME"
	case "bytea":
		return "BINARY"
	}
	return ""
}

var castSuffixRe = regexp.MustCompile(`(?i)::\s*(double precision|character varying|timestamp without time zone|[a-z_][a-z0-9_]*)`)

// doubleColonCast rewrites x::type where x is a column path, a number, a
// string literal or a parenthesised expression.
func doubleColonCast(q string) string {
	for {
		masked := maskQuoted(q)
		m := castSuffixRe.FindStringSubmatchIndex(masked)
		if m == nil {
			return q
		}
		typ := mysqlType(q[m[2]:m[3]])
		if typ == "" {
			return q // an unknown type is left for the database to reject
		}
		start := operandStart(masked, m[0])
		if start < 0 {
			return q
		}
		q = q[:start] + "CAST(" + q[start:m[0]] + " AS " + typ + ")" + q[m[1]:]
	}
}

// operandStart returns where the operand ending just before end begins: a
// parenthesised group, a quoted literal or a run of word characters and dots.
func operandStart(masked string, end int) int {
	i := end - 1
	if i < 0 {
		return -1
	}
	switch masked[i] {
	case ')':
		depth := 0
		for ; i >= 0; i-- {
			switch masked[i] {
			case ')':
				depth++
			case '(':
				depth--
				if depth == 0 {
					// A function call: include its name.
					for i > 0 && isWord(masked[i-1]) {
						i--
					}
					return i
				}
			}
		}
		return -1
	case '\'':
		i--
		for i >= 0 && masked[i] != '\'' {
			i--
		}
		return i
	}
	for i >= 0 && (isWord(masked[i]) || masked[i] == '.') {
		i--
	}
	if i == end-1 {
		return -1
	}
	return i + 1
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var castAsRe = regexp.MustCompile(`(?i)\bas\s+(varchar|text|character varying|integer|int|bigint|numeric)\s*\)`)

// castType renames PostgreSQL type names inside CAST(… AS type).
func castType(q string) string {
	return replaceCode(q, castAsRe, func(q string, m []int) string {
		return "AS " + mysqlType(q[m[2]:m[3]]) + ")"
	})
}

var doubleQuotedRe = regexp.MustCompile(`"([A-Za-z_][A-Za-z0-9_]*)"`)

func doubleQuoted(q string) string { return doubleQuotedRe.ReplaceAllString(q, "`$1`") }

// concatPipes rewrites chains a || b || c into CONCAT(a, b, c), where each
// operand is a term: a column path, a literal or a call.
func concatPipes(q string) string {
	for {
		masked := maskQuoted(q)
		at := strings.Index(masked, "||")
		if at < 0 {
			return q
		}
		left := strings.TrimRight(masked[:at], " \t\n")
		start := operandStart(masked, len(left))
		if start < 0 {
			return q
		}
		operands := []string{q[start:len(left)]}
		pos := at
		for {
			rest := masked[pos+2:]
			skip := len(rest) - len(strings.TrimLeft(rest, " \t\n"))
			from := pos + 2 + skip
			to := operandEnd(masked, from)
			if to <= from {
				return q
			}
			operands = append(operands, q[from:to])
			next := strings.TrimLeft(masked[to:], " \t\n")
			if !strings.HasPrefix(next, "||") {
				q = q[:start] + "CONCAT(" + strings.Join(operands, ", ") + ")" + q[to:]
				break
			}
			pos = to + (len(masked[to:]) - len(next))
		}
	}
}

// operandEnd returns where the operand starting at from ends.
func operandEnd(masked string, from int) int {
	i := from
	if i >= len(masked) {
		return i
	}
	switch masked[i] {
	case '\'':
		i++
		for i < len(masked) && masked[i] != '\'' {
			i++
		}
		return min(i+1, len(masked))
	case '(':
		return closing(masked, i) + 1
	}
	for i < len(masked) && (isWord(masked[i]) || masked[i] == '.') {
		i++
	}
	if i < len(masked) && masked[i] == '(' {
		return closing(masked, i) + 1
	}
	return i
}

var rowIsNullRe = regexp.MustCompile(`(?i)\b([A-Za-z_][A-Za-z0-9_]*)\.\*\s+IS\s+(NOT\s+)?NULL`)

func rowIsNull(q string) string {
	return replaceCode(q, rowIsNullRe, func(q string, m []int) string {
		not := ""
		if m[4] >= 0 {
			not = "NOT "
		}
		return q[m[2]:m[3]] + ".id IS " + not + "NULL"
	})
}

var toTimestampRe = regexp.MustCompile(`(?i)\bto_timestamp\s*\(`)

// pgFormat maps PostgreSQL's to_timestamp format fields to STR_TO_DATE's,
// longest first.
var pgFormat = strings.NewReplacer("YYYY", "%Y", "HH24", "%H", "HH12", "%h", "MM", "%m", "DD", "%d", "MI", "%i", "SS", "%s", "MS", "%f", "US", "%f")

func toTimestamp(q string) string {
	return callWith(q, toTimestampRe, func(args []string) string {
		switch len(args) {
		case 1:
			return "FROM_UNIXTIME(" + args[0] + ")"
		case 2:
			return "STR_TO_DATE(" + args[0] + ", " + pgFormat.Replace(args[1]) + ")"
		}
		return ""
	})
}

var atTimeZoneRe = regexp.MustCompile(`(?i)\s+at\s+time\s+zone\s+'UTC'`)

func atTimeZoneUTC(q string) string { return atTimeZoneRe.ReplaceAllString(q, "") }

var extractEpochRe = regexp.MustCompile(`(?i)\bextract\s*\(\s*epoch\s+from\s+`)

func extractEpoch(q string) string {
	return replaceCode(q, extractEpochRe, func(string, []int) string { return "UNIX_TIMESTAMP(" })
}

var nowMinusRe = regexp.MustCompile(`(?i)\bnow\s*\(\s*\)\s*-\s*`)

// timestampMinus rewrites now() - t, where t is a term.
func timestampMinus(q string) string {
	for {
		masked := maskQuoted(q)
		loc := nowMinusRe.FindStringIndex(masked)
		if loc == nil {
			return q
		}
		end := operandEnd(masked, loc[1])
		if end <= loc[1] {
			return q
		}
		q = q[:loc[0]] + "TIMESTAMPDIFF(SECOND, " + q[loc[1]:end] + ", now())" + q[end:]
	}
}
