package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// Remote health is probed with a one-key listing (it fails when the
// bucket is missing, unlike a Stat), at most once per healthTTL, each
// probe bounded by healthTimeout.
const (
	healthTTL     = time.Second
	healthTimeout = 3 * time.Second
	healthProbe   = "mediaserver-healthz-probe"
)

// remoteHealth tells whether the remote answers.
type remoteHealth struct {
	remote storage.Provider
	now    func() time.Time

	mu  sync.Mutex
	at  time.Time // of the last probe
	err error     // its outcome
}

// check returns nil when the remote answered its last probe, made now
// unless one was made less than healthTTL ago.
func (h *remoteHealth) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && h.now().Sub(h.at) < healthTTL {
		return h.err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	h.err = nil
	for _, err := range h.remote.List(ctx, &storage.ListOptions{Prefix: healthProbe}) {
		h.err = err
		break
	}
	if h.err != nil && errors.Is(h.err, context.DeadlineExceeded) {
		h.err = errors.New("the remote did not answer within " + healthTimeout.String())
	}
	h.at = h.now()
	return h.err
}

// healthReport is the JSON /healthz answers.
type healthReport struct {
	// Status is "ok", or "degraded" while the remote is unreachable: the
	// server still serves what it holds locally and, in write-behind
	// mode, takes uploads.
	Status string `json:"status"`
	// Remote is "ok"; "unreachable" when it does not answer; "refused"
	// when it answers but refuses this server's requests (wrong
	// credentials, a missing bucket: an operator's fix, not a wait); absent
	// without -remote.
	Remote      string `json:"remote,omitempty"`
	RemoteError string `json:"remote_error,omitempty"`
	// The tiered store's pending queue (see tiered.Status).
	Mode                 string  `json:"mode,omitempty"`
	PendingUploads       int     `json:"pending_uploads"`
	PendingDeletes       int     `json:"pending_deletes"`
	Failing              int     `json:"failing"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Conflicts            int64   `json:"conflicts"`
}

// handleHealth answers 200 with a healthReport, degraded or not: an
// instance that serves its local tier and keeps uploads is worth keeping
// behind a load balancer while the remote is down. Alert on "degraded"
// and on pending_uploads instead.
func (s *server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if ev := r.URL.Query().Get("event"); ev != "" {
		// The player page reports what it did; see index.go.
		s.log.InfoContext(r.Context(), "player event", "event", ev)
	}
	rep := healthReport{Status: "ok"}
	var tier *tiered.Store
	if storage.As(s.store, &tier) {
		st := tier.Status()
		rep.Remote, rep.Mode = "ok", st.Mode.String()
		rep.PendingUploads, rep.PendingDeletes, rep.Failing = st.PendingUploads, st.PendingDeletes, st.Failing
		rep.OldestPendingSeconds, rep.Conflicts = st.OldestPendingAge.Seconds(), st.Conflicts
		if err := s.probe.check(r.Context()); err != nil {
			rep.Status, rep.Remote, rep.RemoteError = "degraded", remoteState(err), err.Error()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rep)
}

// warnIfRemoteDown logs a warning when the remote does not answer at
// start: the server starts anyway.
func (s *server) warnIfRemoteDown(ctx context.Context, mode tiered.Mode) {
	err := s.probe.check(ctx)
	if err == nil {
		return
	}
	then := "uploads fail until it answers (write-through)"
	if mode == tiered.WriteBehind {
		then = "uploads are kept on local disk and sent once it answers (write-behind)"
	}
	s.log.Warn("mediaserver: the remote is "+remoteState(err)+"; starting anyway: objects held locally are served, "+then+"; see /healthz",
		"remote", storage.RedactString(s.cfg.remote), "err", err)
}

// remoteState names what a failed probe of the remote says: "refused" for
// a remote that answers but refuses (permission, missing bucket), else
// "unreachable".
func remoteState(err error) string {
	if errors.Is(err, storage.ErrPermission) || errors.Is(err, storage.ErrNoBucket) {
		return "refused"
	}
	return "unreachable"
}
