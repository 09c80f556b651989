package link

import (
	"html"
	"net/url"
	"strings"
)

// NotFoundJSON is the body of the 404 for a code no link has, the edge's
// and the backend's alike; it is served as application/json.
const NotFoundJSON = `{"error":{"code":"not_found","message":"` + NotFoundMessage + `"}}` + "\n"

// NotFoundMessage says that no link has a code.
const NotFoundMessage = "no link has this code"

// PageSecurityHeaders are sent with every page: no inline script, no framing,
// no sniffing, no referrer leaking the short link's target.
var PageSecurityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
}

// WantsHTML reports whether an Accept header prefers a page to JSON (a browser).
func WantsHTML(accept string) bool { return strings.Contains(accept, "text/html") }

// NotFoundPage is the page a browser gets for a code no link has, from the
// edge and from the backend; code fills its report link.
func NotFoundPage(code string) string {
	return notFoundHead + html.EscapeString(url.QueryEscape(code)) + notFoundTail
}

const notFoundHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not found</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<main>
  <h1><a href="/">kurz</a></h1>
  <section class="notice" aria-labelledby="nf-title">
    <h2 id="nf-title">This short link does not exist</h2>
    <p>Check the address you were given, or <a href="/">shorten a link of your own</a>.</p>
    <p><a href="/report?code=`

const notFoundTail = `">Report this link</a> if it was used for abuse.</p>
  </section>
</main>
</body>
</html>
`
