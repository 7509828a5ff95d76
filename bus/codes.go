package bus

import "net/http"

// Code is a stable wire error code such as "AVAP_SYNTAX". Codes travel in
// reply envelopes, in the HTTP error envelope ("code") and in the
// Avap-Code header; their names and numbers never change meaning.
type Code string

// Wire error codes. The table below gives each its number and HTTP status.
const (
	CodeSyntax             Code = "AVAP_SYNTAX"
	CodeRuntime            Code = "AVAP_RUNTIME"
	CodeUnknownCommand     Code = "AVAP_UNKNOWN_COMMAND"
	CodeNotAvailable       Code = "AVAP_NOT_AVAILABLE"
	CodeStepLimit          Code = "AVAP_STEP_LIMIT"
	CodeTimeout            Code = "AVAP_TIMEOUT"
	CodeMemoryLimit        Code = "AVAP_MEMORY_LIMIT"
	CodeCallDepth          Code = "AVAP_CALL_DEPTH"
	CodeOutputLimit        Code = "AVAP_OUTPUT_LIMIT"
	CodeCanceled           Code = "AVAP_CANCELED"
	CodeOverloaded         Code = "AVAP_OVERLOADED"
	CodeNoExecutor         Code = "AVAP_NO_EXECUTOR"
	CodeShuttingDown       Code = "AVAP_SHUTTING_DOWN"
	CodeBadRequest         Code = "AVAP_BAD_REQUEST"
	CodeTooLarge           Code = "AVAP_TOO_LARGE"
	CodeUnsupportedMedia   Code = "AVAP_UNSUPPORTED_MEDIA"
	CodeNotFound           Code = "AVAP_NOT_FOUND"
	CodeMethodNotAllowed   Code = "AVAP_METHOD_NOT_ALLOWED"
	CodeUnsupportedVersion Code = "AVAP_UNSUPPORTED_VERSION"
	CodeUnauthorized       Code = "AVAP_UNAUTHORIZED"
	CodeForbidden          Code = "AVAP_FORBIDDEN"
	CodeRateLimited        Code = "AVAP_RATE_LIMITED"
	CodeInternal           Code = "AVAP_INTERNAL"

	// Durable work (jobs, idempotency).
	CodeDependencyUnavailable Code = "AVAP_DEPENDENCY_UNAVAILABLE"
	CodeUpstreamRateLimited   Code = "AVAP_UPSTREAM_RATE_LIMITED"
	CodeExecutorLost          Code = "AVAP_EXECUTOR_LOST"
	CodeIdempotencyMismatch   Code = "AVAP_IDEMPOTENCY_MISMATCH"
	CodeConflict              Code = "AVAP_CONFLICT"
)

// CodeInfo describes one wire error code.
type CodeInfo struct {
	Code        Code   // symbolic name
	Num         int    // stable number (also sent as Nats-Service-Error-Code)
	Status      int    // HTTP status the edge answers with
	Retry       bool   // the request never ran; safe to send again (edge adds Retry-After)
	Description string // what it means, for docs and default messages
}

// codeTable is the read-only table of every wire code. Numbers are stable:
// 1xxx script errors, 2xxx limits, 3xxx capacity, 4xxx request problems,
// 9xxx server faults. Append new codes; never renumber.
//
// HTTP statuses follow DESIGN.md: script errors are the client's fault (400);
// the limits that stop a runaway script (wall clock and instruction count)
// answer 504 like the reference server's watchdog, so the runaway-loop case
// gets 504 whichever limit fires first; shape limits (memory, call depth,
// output size) are properties of the script and answer 400.
var codeTable = [...]CodeInfo{
	{CodeSyntax, 1001, http.StatusBadRequest, false, "the script does not compile"},
	{CodeRuntime, 1002, http.StatusBadRequest, false, "the script failed at run time"},
	{CodeUnknownCommand, 1003, http.StatusBadRequest, false, "the script called a command that does not exist"},
	{CodeNotAvailable, 1004, http.StatusBadRequest, false, "the script called a command not available on this server"},
	{CodeStepLimit, 2001, http.StatusGatewayTimeout, false, "the script exceeded its instruction limit"},
	{CodeTimeout, 2002, http.StatusGatewayTimeout, false, "the script exceeded its time limit"},
	{CodeMemoryLimit, 2003, http.StatusBadRequest, false, "the script exceeded its memory limit"},
	{CodeCallDepth, 2004, http.StatusBadRequest, false, "the script exceeded its call depth limit"},
	{CodeOutputLimit, 2005, http.StatusBadRequest, false, "the script's output exceeded its size limit"},
	{CodeCanceled, 2006, http.StatusServiceUnavailable, false, "the run was canceled"},
	{CodeOverloaded, 3001, http.StatusServiceUnavailable, true, "all executors are busy; retry later"},
	{CodeNoExecutor, 3002, http.StatusServiceUnavailable, true, "no executor is available; retry later"},
	{CodeShuttingDown, 3003, http.StatusServiceUnavailable, true, "the executor is shutting down; the request did not run"},
	{CodeBadRequest, 4001, http.StatusBadRequest, false, "the request is malformed"},
	{CodeTooLarge, 4002, http.StatusRequestEntityTooLarge, false, "the request is too large"},
	{CodeUnsupportedMedia, 4003, http.StatusUnsupportedMediaType, false, "unsupported content type"},
	{CodeNotFound, 4004, http.StatusNotFound, false, "not found"},
	{CodeMethodNotAllowed, 4005, http.StatusMethodNotAllowed, false, "method not allowed"},
	{CodeUnsupportedVersion, 4006, http.StatusBadRequest, false, "unsupported envelope version"},
	{CodeUnauthorized, 4007, http.StatusUnauthorized, false, "authentication required"},
	{CodeForbidden, 4008, http.StatusForbidden, false, "forbidden"},
	{CodeRateLimited, 4009, http.StatusTooManyRequests, true, "rate limit exceeded; retry later"},
	{CodeDependencyUnavailable, 3004, http.StatusServiceUnavailable, true, "a service the script depends on is unavailable; retry later"},
	{CodeUpstreamRateLimited, 3005, http.StatusServiceUnavailable, true, "a service the script calls is rate limiting; retry later"},
	{CodeExecutorLost, 3006, http.StatusServiceUnavailable, true, "the executor running the job stopped before finishing it"},
	{CodeIdempotencyMismatch, 4010, http.StatusUnprocessableEntity, false, "the Idempotency-Key was already used with a different request"},
	{CodeConflict, 4011, http.StatusConflict, false, "the request conflicts with the current state of the resource"},
	{CodeInternal, 9001, http.StatusInternalServerError, false, "internal server error"}, // keep last: Lookup's fallback
}

// Codes returns a copy of the code table, in number order.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codeTable[:]...) }

// Lookup returns the table entry of c. Unknown codes (from a newer peer)
// report ok=false and describe themselves as AVAP_INTERNAL with status 500.
func Lookup(c Code) (info CodeInfo, ok bool) {
	for i := range codeTable {
		if codeTable[i].Code == c {
			return codeTable[i], true
		}
	}
	info = codeTable[len(codeTable)-1]
	info.Code = c
	return info, false
}

// Status returns the HTTP status of c (500 for an unknown code).
func (c Code) Status() int {
	info, _ := Lookup(c)
	return info.Status
}

// Error is a wire error: a code, the HTTP status it maps to and a
// description. Two Errors match with errors.Is when their codes are equal,
// as jetstream.APIError does.
type Error struct {
	Code        Code   // wire code
	Status      int    // HTTP status
	Description string // human-readable message
}

// NewError returns an Error for c with the given description ("" = the
// table's description).
func NewError(c Code, description string) *Error {
	info, _ := Lookup(c)
	if description == "" {
		description = info.Description
	}
	return &Error{Code: c, Status: info.Status, Description: description}
}

// Error returns "CODE: description".
func (e *Error) Error() string { return string(e.Code) + ": " + e.Description }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
