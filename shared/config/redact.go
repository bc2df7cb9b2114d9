package config

import (
	"encoding/json"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// Mask replaces a secret wherever a Config is printed.
const Mask = "*****"

// Redacted returns a copy of c whose secrets are masked: the password, and
// the password inside the DSN. Secrets that are not set stay empty, so the
// copy still tells whether they were given.
func (c Config) Redacted() Config {
	c.DB = c.DB.Redacted()
	return c
}

// Redacted returns a copy of d whose password and DSN password are masked.
func (d DB) Redacted() DB {
	if d.Password != "" {
		d.Password = Mask
	}
	d.DSN = RedactDSN(d.DSN)
	return d
}

// RedactDSN returns dsn with its password masked; a DSN that does not parse
// is withheld entirely.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN withheld)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = Mask
	}
	return cfg.FormatDSN()
}

// The plain types have the fields but none of the methods, so printing them
// does not recurse.
type (
	plainConfig Config
	plainDB     DB
)

// String prints the redacted config.
func (c Config) String() string { return fmt.Sprintf("%+v", c) }

// Format makes every fmt verb (%v, %+v, %#v, %s, ...) print the redacted
// config. The DB field formats itself the same way.
func (c Config) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainConfig(c.Redacted()))
}

// String prints the redacted database section.
func (d DB) String() string { return fmt.Sprintf("%+v", d) }

// Format makes every fmt verb print the redacted database section.
func (d DB) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainDB(d.Redacted()))
}

// MarshalJSON writes the database section with the password masked (it is
// "password": "*****" when set) and the DSN's password masked.
func (d DB) MarshalJSON() ([]byte, error) {
	r := d.Redacted()
	return json.Marshal(struct {
		plainDB
		Password string `json:"password,omitempty"`
		DSN      string `json:"dsn,omitempty"`
	}{plainDB(r), r.Password, r.DSN})
}
