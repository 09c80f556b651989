package plugin

import (
	"context"
	"net/http"
	"testing"
)

// flakyNext answers each request with the next status of its list, then 200.
type flakyNext struct {
	statuses []int
	calls    int
}

func (f *flakyNext) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	status := http.StatusOK
	if f.calls < len(f.statuses) {
		status = f.statuses[f.calls]
	}
	f.calls++
	rw.Header().Set("X-Attempt", http.StatusText(status))
	rw.WriteHeader(status)
	rw.Write([]byte(http.StatusText(status)))
}

func TestIdempotentRequestsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		statuses     []int
		status       int
		calls        int
	}{
		{"OKFirstTime", "GET", nil, 200, 1},
		{"OKAfterBadGateway", "GET", []int{502}, 200, 2},
		{"OKHeadAfterTimeout", "HEAD", []int{504, 502}, 200, 3},
		{"OKAfterFourGatewayErrors", "GET", []int{502, 502, 504, 502}, 200, 5},
		{"ErrAfterFiveAttempts", "GET", []int{502, 502, 502, 502, 502, 502}, 502, 5},
		{"OtherErrorsPass", "GET", []int{503}, 503, 1},
		{"PostIsNotRetried", "POST", []int{502}, 502, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &flakyNext{statuses: tc.statuses}
			h, err := New(context.Background(), next, testConfig("127.0.0.1:1", "43s"), "retry")
			if err != nil {
				t.Fatal(err)
			}
			rec := serve(h, tc.method, "/api/links")
			if got, want := rec.Code, tc.status; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := next.calls, tc.calls; got != want {
				t.Errorf("attempts = %d, want %d", got, want)
			}
			if got, want := rec.Header().Get("X-Attempt"), http.StatusText(tc.status); got != want {
				t.Errorf("headers of attempt %q, want only those of the answer sent (%q)", got, want)
			}
			if got, want := rec.Body.String(), http.StatusText(tc.status); tc.method != "HEAD" && got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
		})
	}
}
