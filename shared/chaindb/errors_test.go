package chaindb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestClassify(t *testing.T) {
	my := func(n uint16) error { return &mysql.MySQLError{Number: n, Message: "transaction too large"} }
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Fatal},
		{"lock wait", my(1205), Retry},
		{"deadlock", my(1213), Retry},
		{"tidb retry", my(8022), Retry},
		{"schema outdated", my(8027), Retry},
		{"info schema changed", my(8028), Retry},
		{"pd timeout", my(9001), Throttle},
		{"server busy", my(9003), Throttle},
		{"region unavailable", my(9005), Throttle},
		{"too many connections", my(1040), Throttle},
		{"transaction too large", my(8004), Split},
		{"packet too large", my(1153), Split},
		{"data too long", my(1406), Data},
		{"out of range", my(1264), Data},
		// The message says "transaction too large" but the number decides.
		{"syntax error with misleading text", my(1064), Fatal},
		{"wrapped deadlock", fmt.Errorf("insert tx_out: %w", my(1213)), Retry},
		{"bad conn", driver.ErrBadConn, Retry},
		{"invalid conn", mysql.ErrInvalidConn, Retry},
		{"eof", io.ErrUnexpectedEOF, Retry},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, Retry},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, Throttle},
		{"deadline", context.DeadlineExceeded, Throttle},
		{"canceled", context.Canceled, Fatal},
		{"other", errors.New("boom"), Fatal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
