package http

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

//go:embed web
var webFS embed.FS

var page = template.Must(template.ParseFS(webFS, "web/page.html"))

// pageData fills web/page.html.
type pageData struct {
	URL        string
	Error      string
	Suggestion string // what the URL probably meant, offered with the error
	Report     bool   // the report page: ReportCode prefilled, ReportSent after a report
	ReportCode string
	ReportSent bool
	GoneCode   string // on a 404 or 410 page: the code, to report it
	Result     *linkJSON
	NotFound   string // set for the 404/410 page
}

// securityHeaders are sent with every page and static file: no inline script,
// no framing, no sniffing, no referrer leaking the short link's target.
func securityHeaders(h http.Header) {
	for _, kv := range link.PageSecurityHeaders {
		h.Set(kv[0], kv[1])
	}
}

func (s *server) renderPage(w http.ResponseWriter, status int, data pageData) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		s.logger.Error("rendering page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// handleManage serves the management page; it talks to /api/ from the browser.
func (s *server) handleManage() http.HandlerFunc { return servePage("web/manage.html") }

// handleStatsPage is the visits page of a link (?code=), or of all links.
func (s *server) handleStatsPage() http.HandlerFunc { return servePage("web/stats.html") }

// servePage serves an embedded page whose script and data come from /static/ and /api/.
func servePage(name string) http.HandlerFunc {
	html, _ := webFS.ReadFile(name)
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(html)
	}
}

func (s *server) handleStatic() http.Handler {
	sub, _ := fs.Sub(webFS, "web")
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if name != "app.js" && name != "app.css" && name != "manage.js" && name != "stats.js" && name != "status.js" {
			s.error(w, r, backend.Errorf(backend.ENOTFOUND, "nothing here"))
			return
		}
		securityHeaders(w.Header())
		w.Header().Set("Cache-Control", "public, max-age=300")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}

// wantsHTML reports whether the client prefers a page to JSON (a browser).
func wantsHTML(r *http.Request) bool { return link.WantsHTML(r.Header.Get("Accept")) }

// qrSVG draws content as a QR code in SVG, one path of dark modules.
func qrSVG(content string) ([]byte, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	return renderSVG(code), nil
}

func renderSVG(code barcode.Barcode) []byte {
	const quiet = 4 // modules of white border, as the standard asks
	b := code.Bounds()
	size := b.Dx() + 2*quiet
	dark := func(x, y int) bool { r, _, _, _ := code.At(x, y).RGBA(); return r == 0 }
	var path strings.Builder
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !dark(x, y) {
				continue
			}
			run := 1 // one rectangle per horizontal run of dark modules
			for x+run < b.Max.X && dark(x+run, y) {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x-b.Min.X+quiet, y-b.Min.Y+quiet, run, run)
			x += run - 1
		}
	}
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, path.String()))
}
