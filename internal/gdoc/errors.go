// Package gdoc is G-Doc's domain: users, documents, operations, chat, and the
// interfaces that storage, fan-out and presence adapters implement.
package gdoc

import (
	"errors"
	"fmt"
)

// Error codes. Every error that crosses a package boundary carries one of
// these; exactly one function per transport (HTTP status, WebSocket error)
// maps them, and only EINTERNAL is logged as a server fault.
const (
	ECONFLICT     = "conflict"     // unique constraint or concurrent commit lost
	EINTERNAL     = "internal"     // a server fault
	EINVALID      = "invalid"      // the client's input is malformed or out of range
	ENOTFOUND     = "not_found"    // no such user, document, op
	EUNAUTHORIZED = "unauthorized" // missing, bad or expired credentials
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	ETOOLARGE     = "too_large"    // request or message over a limit
	EUNAVAILABLE  = "unavailable"  // a dependency (database, bus) is down; retry later
	ERATELIMITED  = "rate_limited" // too many requests or messages
	ERELOAD       = "reload"       // the client's revision is too old to catch up from ops
)

// Error is a domain error: a code from the list above and a sentence a user
// can read.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("gdoc error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human-readable message of err, hiding the details
// of internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrOpIDTaken is wrapped in the ECONFLICT that OpLog.AppendOps returns for
// a batch one of whose op ids its user already committed to the document
// (rather than a revision taken by another writer): the caller answers the
// submissions concerned (OpLog.OpRev) instead of retrying the batch.
var ErrOpIDTaken = errors.New("an op id of the batch is already committed")
