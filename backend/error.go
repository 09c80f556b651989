package backend

import (
	"errors"
	"fmt"
)

// Error codes: the only error vocabulary clients see; the HTTP adapter maps each to a status.
const (
	EINVALID          = "invalid_request"        // malformed JSON, unknown fields
	EINVALIDURL       = "invalid_url"            // the URL breaks a rule
	EINVALIDFIELD     = "invalid_field"          // another field breaks a rule (alias, expiry, …)
	EBLOCKED          = "blocked_domain"         // the URL's domain is on the blocklist
	ETOOLARGE         = "payload_too_large"      // body over the limit
	EUNSUPPORTED      = "unsupported_media_type" // not application/json
	ENOTFOUND         = "not_found"
	EGONE             = "gone" // expired or out of visits
	EUNAUTHORIZED     = "unauthorized"
	EFORBIDDEN        = "forbidden" // the key may not do this
	EMETHODNOTALLOWED = "method_not_allowed"
	ECONFLICT         = "conflict"
	EUNAVAILABLE      = "unavailable" // a dependency is down
	EINTERNAL         = "internal"
)

// Error is an application error with a code and a message safe to show to clients.
type Error struct {
	Code    string
	Message string
	Field   string // the request field an EINVALIDFIELD is about, as kurz's API names it; "" if none
	Err     error  // the cause, logged but never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf is EINVALIDFIELD about field (url, alias, expires_at, …, as kurz's API names them).
func FieldErrorf(field, format string, args ...any) *Error {
	e := Errorf(EINVALIDFIELD, format, args...)
	e.Field = field
	return e
}

// ErrorField is the request field err is about: "url" for EINVALIDURL and EBLOCKED, "" when it says none.
func ErrorField(err error) string {
	var e *Error
	switch {
	case !errors.As(err, &e):
		return ""
	case e.Code == EINVALIDURL || e.Code == EBLOCKED:
		return "url"
	}
	return e.Field
}

// Wrap returns an *Error whose cause is err; err is for logs only.
func Wrap(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode is the code of err, EINTERNAL for anything that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage is the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}
