package chaindb

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/dbconn"
)

// Sentinels of the tip path's ordering (see ApplyBatch and Rollback). The
// first two refuse a tip batch for now: it must wait for an operation that
// has to come first (retry it); the third says it will never apply.
var (
	// ErrRollbackNotApplied: the rollback the tip batch follows (its After) is
	// not in the rollback ledger yet.
	ErrRollbackNotApplied = errors.New("the rollback this tip batch follows has not been applied")
	// ErrNotHead: blocks that are not the batch's own lie between its parent
	// and its last block: another fork, which a rollback must remove first.
	ErrNotHead = errors.New("the tip batch's parent is not the head of the indexed chain")
	// ErrAbandoned: a rollback the follower saw after sending the batch cut
	// the chain below the batch's blocks; nothing was written.
	ErrAbandoned = errors.New("the tip batch was abandoned by a later rollback")
	// ErrMalformedRollback: a rollback whose From lies below its Point.
	ErrMalformedRollback = errors.New("malformed rollback")
	// ErrUnknownPoint: RollbackTo's point is not a block of the indexed chain.
	ErrUnknownPoint = errors.New("not a block of the indexed chain")
	// ErrRollbackUnfinished: RollbackTo to another point than the one an
	// interrupted operator rollback was going to.
	ErrRollbackUnfinished = errors.New("an operator rollback is unfinished")
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
	// Refused means the database refuses service for longer than a retry
	// waits: a login answered with an error (TiDB Cloud Starter denies new
	// connections at its spending limit), the resource group's quota spent,
	// a statement quarantined as a runaway. Not retried in place: the caller
	// raises an alarm (the ingest function's DBRefused metric) and leaves the
	// message to its queue.
	Refused
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
	case Refused:
		return "refused"
	}
	return "fatal"
}

// errorClasses maps MySQL/TiDB error numbers to classes. It is the only
// place errors are classified; messages are never matched.
// TiDB's numbers are those of its pkg/errno (errcode.go, errname.go).
var errorClasses = map[uint16]Class{
	1205: Retry,    // lock wait timeout exceeded
	1213: Retry,    // deadlock found
	1053: Retry,    // server shutdown in progress
	1317: Retry,    // query execution was interrupted (KILL QUERY, a server going away)
	1927: Retry,    // connection killed (MariaDB)
	8002: Retry,    // TiDB ErrForUpdateCantRetry: SELECT FOR UPDATE write conflict
	8005: Retry,    // TiDB ErrWriteConflictInTiDB: write conflict, txnStartTS is stale
	8022: Retry,    // TiDB ErrTxnRetryable: transaction commit failed, retry
	8027: Retry,    // TiDB ErrInfoSchemaExpired: schema out of date
	8028: Retry,    // TiDB ErrInfoSchemaChanged: information schema changed
	8229: Retry,    // TiDB ErrLockExpire: TTL manager timed out, pessimistic locks may expire
	8251: Retry,    // TiDB ErrResourceGroupConfigUnavailable
	9007: Retry,    // TiDB ErrWriteConflict
	9010: Retry,    // TiDB ErrTiKVStaleCommand
	9011: Retry,    // TiDB ErrTiKVMaxTimestampNotSynced
	1040: Throttle, // too many connections
	1203: Throttle, // user has more than max_user_connections active connections
	3024: Throttle, // maximum statement execution time exceeded: smaller statements
	8001: Throttle, // TiDB ErrMemExceedThreshold: smaller statements
	8175: Throttle, // TiDB ErrMemoryExceedForQuery: tidb_mem_quota_query, smaller statements
	8176: Throttle, // TiDB ErrMemoryExceedForInstance: tidb_server_memory_limit
	8253: Throttle, // TiDB ErrResourceGroupQueryRunawayInterrupted: ran too long, smaller statements
	9001: Throttle, // TiDB ErrPDServerTimeout
	9002: Throttle, // TiDB ErrTiKVServerTimeout
	9003: Throttle, // TiDB ErrTiKVServerBusy
	9004: Throttle, // TiDB ErrResolveLockTimeout
	9005: Throttle, // TiDB ErrRegionUnavailable
	9008: Throttle, // TiDB ErrTiKVStoreLimit
	9012: Throttle, // TiDB ErrTiFlashServerTimeout
	9013: Throttle, // TiDB ErrTiFlashServerBusy
	8004: Split,    // TiDB ErrTxnTooLarge: transaction too large
	8025: Split,    // TiDB ErrEntryTooLarge: entry too large
	9006: Split,    // TiDB ErrGCTooEarly: the transaction outlived the GC life time; a shorter one passes
	1153: Split,    // packet larger than max_allowed_packet
	8252: Refused,  // TiDB ErrResourceGroupThrottled: the resource group's request units are spent
	8254: Refused,  // TiDB ErrResourceGroupQueryRunawayQuarantine: the statement is on the runaway watch list
	1048: Data,     // column cannot be null
	1264: Data,     // out of range value
	1292: Data,     // incorrect value (truncated)
	1366: Data,     // incorrect string/decimal value
	1406: Data,     // data too long for column
	3140: Data,     // invalid JSON text
}

// memoryQuota holds the errors of a statement that outgrew a memory quota.
// TiDB counts the writes a transaction buffers in its session's memory, so
// in a large transaction they mean the transaction is too large as often as
// the statement: Classify calls them Throttle (smaller statements pass),
// TooLarge adds them to Split for transactions that can be cut.
var memoryQuota = map[uint16]bool{
	8001: true, // TiDB ErrMemExceedThreshold
	8175: true, // TiDB ErrMemoryExceedForQuery: tidb_mem_quota_query (the session, its transaction included)
	8176: true, // TiDB ErrMemoryExceedForInstance: tidb_server_memory_limit
}

// TooLarge reports whether err says a transaction should be cut: the Split
// errors ("transaction too large", an entry or a packet too large, a
// transaction that outlived the GC life time) and the memory quota errors.
// A transaction of several batches (Store.ApplyBatches) is split on it, not
// retried whole.
func TooLarge(err error) bool {
	if Classify(err) == Split {
		return true
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && memoryQuota[me.Number]
}

// Classify decides how to handle an error from the database driver.
//
// A failure to connect (a *dbconn.ConnectError, as the pools of dbconn and
// secrets report new connections that fail) is refused service when the
// server answered the login with an error whose number is not one that
// passes (an authentication failure, a locked account, or whatever TiDB
// Cloud Starter's gateway answers at the spending limit, where it denies
// new connections); a certificate that does not verify is fatal; a TLS
// alert, a refused or dropped TCP connection are retried.
func Classify(err error) Class {
	if err == nil {
		return Fatal
	}
	var me *mysql.MySQLError
	var ce *dbconn.ConnectError
	if errors.As(err, &ce) {
		if errors.As(ce.Err, &me) {
			if c, ok := errorClasses[me.Number]; ok && (c == Retry || c == Throttle) {
				return c
			}
			return Refused
		}
		switch ce.Kind {
		case dbconn.KindNoTLS, dbconn.KindTLSIdentity, dbconn.KindTLSUnknownCA, dbconn.KindTLSCertificate, dbconn.KindNoDatabase:
			return Fatal
		}
	}
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
