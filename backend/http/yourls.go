package http

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// YOURLS's API at /yourls-api.php, for ShareX, browser extensions and
// scripts that speak it. docs/yourls-api.md says what is supported.

// YOURLSVersion is the YOURLS version the version action reports.
const YOURLSVersion = "1.10.4"

func (s *server) yourlsRoutes(r *httprouter.Router) {
	h := s.instrument("yourls", s.handleYOURLS())
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r.Handler(m, "/yourls-api.php", h)
		s.compat = append(s.compat, m+" /yourls-api.php")
	}
}

// yobject is a YOURLS answer: an object whose keys keep their order, in JSON and XML.
type yobject []yfield

type yfield struct {
	key   string
	value any // string, int64, or yobject
}

func (o yobject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// get is the value of key, nil if absent.
func (o yobject) get(key string) any {
	for _, f := range o {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

// appendXML writes o's fields as elements, on one line (an extension
// matches the version with a regular expression that spans no newline).
func (o yobject) appendXML(b *strings.Builder) {
	for _, f := range o {
		b.WriteString("<" + f.key + ">")
		switch v := f.value.(type) {
		case yobject:
			v.appendXML(b)
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case string:
			xml.EscapeText(b, []byte(v))
		}
		b.WriteString("</" + f.key + ">")
	}
}

// yourlsReply is an answer, its HTTP status and its simple format.
type yourlsReply struct {
	status int
	body   yobject
	simple string
}

// yourlsFail is a failure; the simple format says its message.
func yourlsFail(status int, body yobject) yourlsReply {
	msg, _ := body.get("message").(string)
	return yourlsReply{status: status, body: body, simple: msg}
}

var jsonpCallback = regexp.MustCompile(`^[a-zA-Z0-9_$.]+$`)

func (s *server) handleYOURLS() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseMultipartForm(s.cfg.MaxBodyBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			s.yourlsWrite(w, r, yourlsFail(http.StatusBadRequest, yobject{{"errorCode", "400"}, {"message", "The request could not be read"}}))
			return
		}
		if r.FormValue("action") == "version" { // open, as in YOURLS
			s.yourlsWrite(w, r, yourlsReply{status: http.StatusOK, body: yobject{{"version", YOURLSVersion}}, simple: YOURLSVersion})
			return
		}
		actor, fail := s.yourlsActor(r)
		if fail != nil {
			s.yourlsWrite(w, r, *fail)
			return
		}
		s.yourlsWrite(w, r, s.yourlsAction(r, actor))
	}
}

// yourlsActor authenticates as YOURLS does: signature (here the kurz key
// itself), timestamp and signature (a key's signature token), or username
// and password (the key's name and the key), the last when enabled.
func (s *server) yourlsActor(r *http.Request) (backend.Actor, *yourlsReply) {
	sig, ts := r.FormValue("signature"), r.FormValue("timestamp")
	user, pass := r.FormValue("username"), r.FormValue("password")
	var actor backend.Actor
	var err error
	switch {
	case sig != "" && ts != "":
		actor, err = s.keys.CheckSignature(r.Context(), ts, r.FormValue("hash"), sig, time.Now())
	case sig != "":
		actor, err = s.keys.Check(r.Context(), sig)
	case user != "" && pass != "" && s.cfg.YOURLSPasswords:
		actor, err = s.keys.Check(r.Context(), pass)
		if err == nil && actor.Name != user {
			err = backend.Errorf(backend.EUNAUTHORIZED, "the key is not named %s", user)
		}
	default:
		fail := yourlsFail(http.StatusForbidden, yobject{{"message", "Please log in"}, {"errorCode", "403"}, {"callback", ""}})
		return actor, &fail
	}
	if backend.ErrorCode(err) == backend.EUNAUTHORIZED {
		fail := yourlsFail(http.StatusForbidden, yobject{{"message", "Invalid username or password"}, {"errorCode", "403"}, {"callback", ""}})
		return actor, &fail
	}
	if err != nil {
		fail := s.yourlsServerError(r, err)
		return actor, &fail
	}
	return actor, nil
}

func (s *server) yourlsServerError(r *http.Request, err error) yourlsReply {
	s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	if backend.ErrorCode(err) == backend.EUNAVAILABLE {
		status = http.StatusServiceUnavailable
	}
	return yourlsFail(status, yobject{{"errorCode", strconv.Itoa(status)}, {"message", "Error: the server could not answer, try again"}})
}

func (s *server) yourlsAction(r *http.Request, actor backend.Actor) yourlsReply {
	switch r.FormValue("action") {
	case "shorturl":
		return s.yourlsShorten(r, actor)
	case "expand":
		return s.yourlsExpand(r, actor)
	case "url-stats":
		return s.yourlsURLStats(r, actor)
	case "stats":
		return s.yourlsStats(r, actor, true)
	case "db-stats":
		return s.yourlsStats(r, actor, false)
	}
	return yourlsFail(http.StatusBadRequest, yobject{{"errorCode", "400"}, {"message", `Unknown or missing "action" parameter`}})
}

// yourlsDate is YOURLS's MySQL datetime, in UTC.
func yourlsDate(t time.Time) string { return t.UTC().Format(time.DateTime) }

func (s *server) yourlsShorten(r *http.Request, actor backend.Actor) yourlsReply {
	raw, keyword, title := strings.TrimSpace(r.FormValue("url")), r.FormValue("keyword"), r.FormValue("title")
	fail := func(code, msg string) yourlsReply {
		return yourlsFail(http.StatusBadRequest, yobject{{"status", "fail"}, {"code", code}, {"message", msg}, {"errorCode", "400"}, {"statusCode", "400"}})
	}
	if raw == "" {
		return fail("error:nourl", "Missing or malformed URL")
	}
	if keyword != "" && backend.ValidateAlias(keyword) != nil {
		return fail("error:keyword", "Short URL "+keyword+" already exists in database or is reserved")
	}
	req := backend.CreateRequest{URL: raw, Alias: keyword, Meta: backend.Meta{Title: title}}
	if actor.Domain != nil {
		req.Domain = *actor.Domain
	}
	req.Owner = &actor.KeyID
	l, created, err := s.links.Shorten(r.Context(), req)
	switch code := backend.ErrorCode(err); {
	case err == nil:
	case code == backend.ECONFLICT:
		return fail("error:keyword", "Short URL "+keyword+" already exists in database or is reserved")
	case code == backend.EINVALIDURL, code == backend.EBLOCKED:
		return fail("error:nourl", "Missing or malformed URL")
	case code == backend.EINVALIDFIELD, code == backend.EINVALID:
		return fail("error:title", backend.ErrorMessage(err))
	default:
		return s.yourlsServerError(r, err)
	}
	short := s.shortURL(l.Domain, l.Code)
	message := l.URL + " added to database"
	if !created { // YOURLS answers 400 error:url; ShareX would fail, so kurz answers the link it has
		message = l.URL + " already exists in database (short URL: " + strings.TrimPrefix(strings.TrimPrefix(short, "https://"), "http://") + ")"
	}
	body := yobject{{"status", "success"}, {"code", ""}, {"message", message}, {"errorCode", ""}, {"statusCode", "200"},
		{"url", yobject{{"keyword", l.Code}, {"url", l.URL}, {"title", l.Title}, {"date", yourlsDate(l.CreatedAt)}, {"ip", ""}}},
		{"title", l.Title}, {"shorturl", short}}
	return yourlsReply{status: http.StatusOK, body: body, simple: short}
}

// yourlsKey is the key of the link a keyword or a short URL names.
func (s *server) yourlsKey(raw string) string {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "/") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return link.Key(s.cfg.Domains.OfHost(u.Host), strings.Trim(u.Path, "/"))
}

// yourlsLink is the link of ?shorturl= the actor manages.
func (s *server) yourlsLink(r *http.Request, actor backend.Actor) (backend.Link, error) {
	return s.links.Get(r.Context(), actor, s.yourlsKey(r.FormValue("shorturl")))
}

func (s *server) yourlsExpand(r *http.Request, actor backend.Actor) yourlsReply {
	l, err := s.yourlsLink(r, actor)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		body := yobject{{"keyword", r.FormValue("shorturl")}, {"message", "Error: short URL not found"}, {"errorCode", "404"}}
		return yourlsReply{status: http.StatusNotFound, body: body, simple: "not found"}
	}
	if err != nil {
		return s.yourlsServerError(r, err)
	}
	short := s.shortURL(l.Domain, l.Code)
	body := yobject{{"keyword", l.Code}, {"shorturl", short}, {"longurl", l.URL}, {"title", l.Title}, {"message", "success"}, {"statusCode", "200"}}
	return yourlsReply{status: http.StatusOK, body: body, simple: l.URL}
}

func (s *server) yourlsLinkOf(l backend.Link) yobject {
	return yobject{{"shorturl", s.shortURL(l.Domain, l.Code)}, {"url", l.URL}, {"title", l.Title}, {"timestamp", yourlsDate(l.CreatedAt)},
		{"ip", ""}, {"clicks", strconv.FormatInt(l.AccessCount, 10)}}
}

const yourlsNeedFormat = "Need either XML or JSON format for stats"

func (s *server) yourlsURLStats(r *http.Request, actor backend.Actor) yourlsReply {
	l, err := s.yourlsLink(r, actor)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return yourlsFail(http.StatusNotFound, yobject{{"statusCode", "404"}, {"message", "Error: short URL not found"}})
	}
	if err != nil {
		return s.yourlsServerError(r, err)
	}
	body := yobject{{"statusCode", "200"}, {"message", "success"}, {"link", s.yourlsLinkOf(l)}}
	return yourlsReply{status: http.StatusOK, body: body, simple: yourlsNeedFormat}
}

// yourlsFilters are the orders of the stats action's filter.
var yourlsFilters = map[string]struct {
	order     backend.ListOrder
	ascending bool
}{
	"top": {backend.OrderMostVisited, false}, "bottom": {backend.OrderMostVisited, true},
	"last": {backend.OrderNewest, false}, "rand": {backend.OrderNewest, false}, // rand: the newest; kurz draws no random sample
}

// yourlsStats answers stats (withLinks: the links of filter, limit and
// start) and db-stats: totals of the links the actor sees.
func (s *server) yourlsStats(r *http.Request, actor backend.Actor, withLinks bool) yourlsReply {
	limit, _ := strconv.Atoi(r.FormValue("limit"))
	start, _ := strconv.Atoi(r.FormValue("start"))
	filter, ok := yourlsFilters[r.FormValue("filter")]
	if !ok {
		filter = yourlsFilters["top"]
	}
	page := backend.Page{Number: 1, Size: min(max(limit, 1), backend.MaxPageSize), Skip: max(start, 0)}
	links, total, err := s.links.Page(r.Context(), actor, backend.ListQuery{Page: &page, Order: filter.order, Ascending: filter.ascending})
	if err != nil {
		return s.yourlsServerError(r, err)
	}
	totals, err := s.links.VisitTotals(r.Context(), actor)
	if err != nil {
		return s.yourlsServerError(r, err)
	}
	stats := yobject{{"total_links", total}, {"total_clicks", totals.Total}}
	if !withLinks {
		return yourlsReply{status: http.StatusOK, body: yobject{{"db-stats", stats}, {"statusCode", "200"}, {"message", "success"}}, simple: yourlsNeedFormat}
	}
	body := yobject{}
	if limit > 0 {
		list := yobject{}
		for i, l := range links {
			list = append(list, yfield{"link_" + strconv.Itoa(i+1), s.yourlsLinkOf(l)})
		}
		body = append(body, yfield{"links", list})
	}
	body = append(body, yfield{"stats", stats}, yfield{"statusCode", "200"}, yfield{"message", "success"})
	return yourlsReply{status: http.StatusOK, body: body, simple: yourlsNeedFormat}
}

// yourlsWrite writes reply in the asked format: xml (the default), json, jsonp or simple.
func (s *server) yourlsWrite(w http.ResponseWriter, r *http.Request, reply yourlsReply) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	switch format := r.FormValue("format"); format {
	case "json", "jsonp":
		b, _ := json.Marshal(reply.body)
		callback := r.FormValue("callback")
		if callback == "" {
			callback = r.FormValue("jsonp")
		}
		if format == "json" || callback == "" {
			h.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(reply.status)
			w.Write(b)
			return
		}
		if !jsonpCallback.MatchString(callback) {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("Invalid JSONP callback"))
			return
		}
		h.Set("Content-Type", "application/javascript; charset=utf-8")
		w.WriteHeader(reply.status)
		w.Write([]byte(callback + "(" + string(b) + ")"))
	case "", "xml":
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><root>`)
		reply.body.appendXML(&b)
		b.WriteString("</root>")
		h.Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(reply.status)
		w.Write([]byte(b.String()))
	default: // simple, and any other: YOURLS answers those simple too
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(reply.status)
		w.Write([]byte(reply.simple))
	}
}
