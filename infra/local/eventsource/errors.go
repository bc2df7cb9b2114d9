package eventsource

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidPoller wraps errors about a Poller's fields.
	ErrInvalidPoller = errors.New("invalid poller")
	// ErrInvoke marks a Poll whose invocation failed as a whole: every
	// message of the batch is left on the queue.
	ErrInvoke = errors.New("invocation failed")
	// ErrBadResponse marks an answer that is not the JSON of an
	// events.SQSEventResponse (e.g. RIE's "Task timed out after 30.00
	// seconds"), or that names a message not in the batch.
	ErrBadResponse = errors.New("bad function response")
	// ErrCrashed marks an invocation whose function process died (RIE
	// answers 502: the runtime exited, panicked, or failed to start).
	ErrCrashed = errors.New("function crashed")
	// ErrRIEClosed is returned by an RIE after Close.
	ErrRIEClosed = errors.New("runtime interface emulator closed")
)

// FunctionError is a handler error: the function returned an error, which
// Lambda (and RIE) report as HTTP 200 with {"errorMessage", "errorType"}.
type FunctionError struct {
	Type    string // errorType, e.g. "errorString"
	Message string // errorMessage
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error (%s): %s", e.Type, e.Message)
}
