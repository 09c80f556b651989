package e2e_test

import (
	"net/http"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// MustRoleKey creates an API key of role with the backend's command line.
var MustRoleKey = testenv.MustRoleKey

// Through Traefik: an author key manages its own links only; the rest is 404.
func TestKeyRolesThroughTraefik(t *testing.T) {
	s := MustStack(t)
	author1, author2, admin := MustRoleKey(t, s, "author"), MustRoleKey(t, s, "author"), MustRoleKey(t, s, "admin")
	create := func(key, url string) string {
		res, err := tryDoKey("POST", s.Traefik.URL()+"/api/shorten", key, `{"url":"`+url+`"}`)
		if err != nil || res.Status != http.StatusCreated {
			t.Fatalf("create %s = %v %d %s", url, err, res.Status, res.Raw)
		}
		return res.Body["short_code"].(string)
	}
	own := create(author1, "https://example.com/e2e/roles/own")
	other := create(author2, "https://example.com/e2e/roles/other")
	for _, tc := range []struct {
		name, key, method, code, body string
		want                          int
	}{
		{"OKOwnGet", author1, "GET", own, "", 200},
		{"OKOwnPatch", author1, "PATCH", own, `{"redirect":307}`, 200},
		{"ErrOthersGet", author1, "GET", other, "", 404},
		{"ErrOthersPatch", author1, "PATCH", other, `{"url":"https://evil.example/"}`, 404},
		{"ErrOthersDelete", author1, "DELETE", other, "", 404},
		{"OKAdminGet", admin, "GET", other, "", 200},
		{"OKAdminDelete", admin, "DELETE", other, "", 204},
		{"OKOwnDelete", author1, "DELETE", own, "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tryDoKey(tc.method, s.Traefik.URL()+"/api/links/"+tc.code, tc.key, tc.body)
			if err != nil || res.Status != tc.want {
				t.Errorf("%s /api/links/%s = %v %d %s, want %d", tc.method, tc.code, err, res.Status, res.Raw, tc.want)
			}
		})
	}
}
