package b2test

import (
	"maps"
	"net/http"
	"time"
)

// Fault is an error the emulator answers a call with instead of serving it.
type Fault struct {
	// Status is the HTTP status, such as 503.
	Status int
	// Code is B2's error code, such as "service_unavailable". Empty means
	// the usual code for Status (401 gives "expired_auth_token", 503
	// "service_unavailable", 500 "internal_error", ...).
	Code string
	// Message is the human-readable message. Empty means a generic one.
	Message string
	// RetryAfter, when positive, is sent as a Retry-After header (rounded
	// up to whole seconds).
	RetryAfter time.Duration
}

func (f Fault) apiError() *apiError {
	code := f.Code
	if code == "" {
		code = defaultCode(f.Status)
	}
	msg := f.Message
	if msg == "" {
		msg = "injected fault: " + http.StatusText(f.Status)
	}
	return &apiError{Status: f.Status, Code: code, Message: msg, retryAfter: f.RetryAfter}
}

// faultState is guarded by Emulator.mu.
type faultState struct {
	uploads int                // uploads still to fail with 503
	next    map[string][]Fault // per API, faults still to answer
	all     *Fault             // answers every call while set
	latency time.Duration
}

// ExpireTokens expires every authorization token issued so far, as if a
// day had passed: account tokens (calls answer 401 expired_auth_token, so a
// client must call b2_authorize_account again), upload URL tokens (uploads
// answer 401, so a client must get a new upload URL) and download
// authorizations.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tokens {
		t.expired = true
	}
	for _, u := range e.uploadURLs {
		u.expired = true
	}
	for _, d := range e.dlTokens {
		d.expires = time.Time{}
	}
}

// FailUploads makes the next n uploads (of files or parts, to any upload
// URL) answer 503 service_unavailable, as B2 does when the pod behind an
// upload URL is too busy. The upload URL each one used answers 503 from
// then on, so a client has to ask for a new upload URL to make progress.
func (e *Emulator) FailUploads(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.uploads += n
}

// FailNext makes the next n calls of api (such as "b2_list_file_names",
// APIUploadFile or APIDownloadByName) answer with the HTTP status and the
// usual B2 error code for it.
func (e *Emulator) FailNext(api string, n, status int) {
	e.InjectFault(api, n, Fault{Status: status})
}

// InjectFault makes the next n calls of api answer with f. Faults for one
// API are answered in the order they were injected.
func (e *Emulator) InjectFault(api string, n int, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults.next[api] = append(e.faults.next[api], f)
	}
}

// FailAll makes every call, b2_authorize_account included, answer with the
// HTTP status (and its usual error code) until FailAll(0) or ClearFaults.
func (e *Emulator) FailAll(status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if status == 0 {
		e.faults.all = nil
		return
	}
	e.faults.all = &Fault{Status: status}
}

// SetLatency delays every answer by d, or until the client gives up on the
// request. The call itself is carried out at once; only its answer waits.
// Zero removes the delay.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.latency = d
}

// ClearFaults removes every pending fault and the latency. Tokens already
// expired stay expired.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = faultState{next: map[string][]Fault{}}
}

// Calls returns how many calls of api the emulator has received, failed
// ones included.
func (e *Emulator) Calls(api string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[api]
}

// CallCounts returns the number of calls received per API.
func (e *Emulator) CallCounts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.calls)
}

// Listed returns how many entries (files, file versions and folders) the
// calls of api, "b2_list_file_names" or "b2_list_file_versions", have
// returned in all. B2
// bills list calls by it, one transaction per 1000 entries; a listing with
// a delimiter returns one entry for a whole folder.
func (e *Emulator) Listed(api string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listed[api]
}

// ResetCalls sets every call count, and the counts of Listed, back to
// zero.
func (e *Emulator) ResetCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.calls)
	clear(e.listed)
}

// takeFault returns the error a call of api must answer with, if any.
func (e *Emulator) takeFault(api string) *apiError {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.all != nil {
		return e.faults.all.apiError()
	}
	q := e.faults.next[api]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	if len(q) == 1 {
		delete(e.faults.next, api)
	} else {
		e.faults.next[api] = q[1:]
	}
	return f.apiError()
}

// slowWriter holds back the answer to a request for d, or until the client
// gives up. The handler has run by then: a slow answer, not a slow server.
type slowWriter struct {
	http.ResponseWriter
	r      *http.Request
	d      time.Duration
	waited bool
}

func (s *slowWriter) wait() {
	if s.waited {
		return
	}
	s.waited = true
	// The server notices a client that went away only once the request
	// body is read.
	drain(s.r)
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.r.Context().Done():
	}
}

func (s *slowWriter) WriteHeader(status int) {
	s.wait()
	s.ResponseWriter.WriteHeader(status)
}

func (s *slowWriter) Write(p []byte) (int, error) {
	s.wait()
	return s.ResponseWriter.Write(p)
}
