package secrets

import (
	"errors"
	"fmt"
)

// ErrNotJSON means the secret string is not a JSON object. The JSON
// parser's own message is withheld: it may quote part of the secret.
var ErrNotJSON = errors.New("secret is not a JSON object of database credentials")

// FieldError is a problem with one field of the secret. It names the field
// and never holds a value that could be secret (a port is shown, a password
// or user name never is).
type FieldError struct {
	Field   string // the secret's JSON key, e.g. "password"
	Problem string // e.g. "is missing"
}

func (e *FieldError) Error() string { return fmt.Sprintf("secret field %q %s", e.Field, e.Problem) }

func missing(field string) error { return &FieldError{Field: field, Problem: "is missing"} }
