package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Response is an HTTP response read whole; Body holds its JSON, if it is JSON.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// ErrorCode is the code of a JSON error response, "" for others.
func (r Response) ErrorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Client follows no redirects: the tests look at them.
var Client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Send makes a request with headers given as name, value pairs (empty values
// are left out); "Host" sets the request's host.
func Send(method, url, body string, headers ...string) (Response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		switch {
		case headers[i+1] == "":
		case http.CanonicalHeaderKey(headers[i]) == "Host":
			req.Host = headers[i+1]
		default:
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := Client.Do(req)
	if err != nil {
		return Response{}, err
	}
	return ReadResponse(res), nil
}

// Do is Send that fails the test on a transport error.
func Do(tb testing.TB, method, url, body string, headers ...string) Response {
	tb.Helper()
	res, err := Send(method, url, body, headers...)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// ReadResponse reads and closes res.
func ReadResponse(res *http.Response) Response {
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// Eventually retries check until it passes or timeout ends.
func Eventually(tb testing.TB, timeout time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(fmt.Errorf("after %s: %w", timeout, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
