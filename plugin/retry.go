package plugin

import (
	"net/http"
	"time"

	"github.com/kurzlink/kurz/link"
)

// idempotentAttempts bounds the tries of a GET or HEAD passed on: each may
// take another pooled connection to a replica that just died (one request
// in 1,807 met three in a row across a SIGKILL under load), so a few more
// than the replicas, each after a short pause that lets the pool and the
// health check notice.
const idempotentAttempts = 5

// retryPause is the pause before the second attempt, and growing by it after.
const retryPause = 10 * time.Millisecond

// serveIdempotent passes a GET or HEAD on, and tries again when the answer is
// a gateway error: Traefik answers 502 when a replica dies with the request
// already written to its pooled connection, a case its retry middleware does
// not resend. The backends never answer 502 or 504 themselves.
func (k *Kurz) serveIdempotent(rw http.ResponseWriter, req *http.Request) {
	// The visitor's address as the edge reads it, for the backend's visit
	// analytics; set (never passed on from the client) on every request.
	req.Header[link.ClientAddrHeader] = []string{link.ClientAddr(req.Header["X-Forwarded-For"], req.RemoteAddr)}
	for attempt := 1; ; attempt++ {
		w := &retryWriter{rw: rw, header: http.Header{}, retry: attempt < idempotentAttempts}
		if attempt > 1 {
			time.Sleep(time.Duration(attempt-1) * retryPause)
			req = req.Clone(req.Context())
			k.edge.count(&k.edge.stats.retries)
		}
		k.next.ServeHTTP(w, req)
		if !w.swallowed || req.Context().Err() != nil {
			w.finish()
			return
		}
	}
}

// retryWriter holds an attempt's headers until its status is known, and
// swallows a gateway error that another attempt may replace.
type retryWriter struct {
	rw        http.ResponseWriter
	header    http.Header
	retry     bool // a gateway error may be swallowed
	swallowed bool
	passed    bool // the status went to the client
}

func (w *retryWriter) Header() http.Header { return w.header }

func (w *retryWriter) WriteHeader(code int) {
	if w.passed || w.swallowed {
		return
	}
	if w.retry && (code == http.StatusBadGateway || code == http.StatusGatewayTimeout) {
		w.swallowed = true
		return
	}
	w.pass()
	w.rw.WriteHeader(code)
}

func (w *retryWriter) Write(b []byte) (int, error) {
	if !w.passed && !w.swallowed {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallowed {
		return len(b), nil
	}
	return w.rw.Write(b)
}

// Flush lets streamed answers through.
func (w *retryWriter) Flush() {
	if f, ok := w.rw.(http.Flusher); ok && w.passed {
		f.Flush()
	}
}

// pass copies the attempt's headers to the client's.
func (w *retryWriter) pass() {
	dst := w.rw.Header()
	for k, v := range w.header {
		dst[k] = v
	}
	w.passed = true
}

// finish passes the headers of an attempt that wrote nothing.
func (w *retryWriter) finish() {
	if !w.passed && !w.swallowed {
		w.pass()
	}
}
