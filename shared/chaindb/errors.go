package chaindb

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// Class says what to do about a database error.
type Class int

const (
	// Fatal errors are not retried: bad SQL, missing tables, permissions.
	Fatal Class = iota
	// Retry errors are transient: lock waits, deadlocks, write conflicts,
	// dropped connections. Retry the whole transaction after a backoff.
	Retry
	// Throttle errors mean the server is overloaded or rate-limiting:
	// retry after a backoff and send smaller statements.
	Throttle
	// Split means the transaction or statement is too large: retry it in parts.
	Split
	// Data errors mean the rows themselves are unacceptable: retrying cannot
	// help; the block belongs in quarantine.
	Data
)

func (c Class) String() string {
	switch c {
	case Retry:
		return "retry"
	case Throttle:
		return "throttle"
	case Split:
		return "split"
	case Data:
		return "data"
	}
	return "fatal"
}

// errorClasses maps MySQL/TiDB error numbers to classes. It is the only
// place errors are classified; messages are never matched.
var errorClasses = map[uint16]Class{
	1205: Retry,    // lock wait timeout exceeded
	1213: Retry,    // deadlock found
	1053: Retry,    // server shutdown in progress
	1927: Retry,    // connection killed (MariaDB)
	8022: Retry,    // TiDB: transaction commit failed, retry
	8027: Retry,    // TiDB: schema out of date
	8028: Retry,    // TiDB: information schema changed
	8002: Retry,    // TiDB: SELECT FOR UPDATE write conflict
	9007: Retry,    // TiDB: write conflict
	1040: Throttle, // too many connections
	9001: Throttle, // TiDB: PD server timeout
	9002: Throttle, // TiDB: TiKV server timeout
	9003: Throttle, // TiDB: TiKV server is busy
	9004: Throttle, // TiDB: resolve lock timeout
	9005: Throttle, // TiDB: region unavailable
	9006: Throttle, // TiDB: GC life time shorter than transaction duration
	8004: Split,    // TiDB: transaction too large
	8025: Split,    // TiDB: entry too large
	1153: Split,    // packet larger than max_allowed_packet
	1048: Data,     // column cannot be null
	1264: Data,     // out of range value
	1292: Data,     // incorrect value (truncated)
	1366: Data,     // incorrect string/decimal value
	1406: Data,     // data too long for column
	3140: Data,     // invalid JSON text
}

// Classify decides how to handle an error from the database driver.
func Classify(err error) Class {
	if err == nil {
		return Fatal
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if c, ok := errorClasses[me.Number]; ok {
			return c
		}
		return Fatal
	}
	if errors.Is(err, context.Canceled) {
		return Fatal
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Throttle
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return Retry
	case errors.As(err, &ne):
		if ne.Timeout() {
			return Throttle
		}
		return Retry
	}
	return Fatal
}
