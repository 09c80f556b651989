// Package imports reads other shorteners' exports as backend.ImportRecords:
// Shlink, YOURLS, Kutt and Bitly as their APIs answer (JSON pages, saved to a
// file), and CSV as Shlink's importer and web client write it. A record that
// cannot be read carries why (Err) and the reading goes on; a file that is
// not of its format at all ends the records with one that says so.
package imports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
)

// Sources are the formats Read knows.
var Sources = []string{"shlink", "yourls", "kutt", "bitly", "csv"}

// Read returns the records of r, an export of source.
func Read(source string, r io.Reader) (iter.Seq[backend.ImportRecord], error) {
	switch source {
	case "csv":
		return readCSV(r, csvColumns), nil
	case "shlink":
		return readJSON(r, shlinkRecord), nil
	case "yourls":
		br := bufio.NewReader(r)
		if first, _ := br.Peek(1); len(first) == 1 && first[0] != '{' && first[0] != '[' {
			return readCSV(br, yourlsColumns), nil // a yourls_url table exported as CSV
		}
		return readJSON(br, yourlsRecord), nil
	case "kutt":
		return readJSON(r, kuttRecord), nil
	case "bitly":
		return readJSON(r, bitlyRecord), nil
	}
	return nil, fmt.Errorf("unknown source %q: one of %s", source, strings.Join(Sources, ", "))
}

// readJSON reads the items of a JSON export: a list, an object holding one
// under a known key (a page of an API: shortUrls.data, result, data, links),
// or several such values one after another (pages saved in one file). Each
// item is converted by record; the item's position is its "line".
func readJSON(r io.Reader, record func(json.RawMessage) backend.ImportRecord) iter.Seq[backend.ImportRecord] {
	return func(yield func(backend.ImportRecord) bool) {
		dec := json.NewDecoder(r)
		n := 0
		emit := func(raw json.RawMessage) bool {
			n++
			rec := record(raw)
			rec.Line = n
			return yield(rec)
		}
		for {
			var value json.RawMessage
			err := dec.Decode(&value)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(backend.ImportRecord{Line: n + 1, Err: fmt.Errorf("the file is not JSON from here on: %v", err)})
				return
			}
			items, ok := itemsOf(value)
			if !ok {
				if !emit(value) {
					return
				}
				continue
			}
			for _, item := range items {
				if !emit(item) {
					return
				}
			}
		}
	}
}

// itemsOf finds the list of links in one JSON value of an export.
func itemsOf(value json.RawMessage) ([]json.RawMessage, bool) {
	var list []json.RawMessage
	if json.Unmarshal(value, &list) == nil {
		return list, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(value, &obj) != nil {
		return nil, false
	}
	for _, key := range []string{"shortUrls", "result", "data", "links"} {
		inner, ok := obj[key]
		if !ok {
			continue
		}
		if items, ok := itemsOf(inner); ok {
			return items, true
		}
		var byName map[string]json.RawMessage // YOURLS's stats: {"link_1": {…}, …}
		if json.Unmarshal(inner, &byName) == nil && len(byName) > 0 {
			items := make([]json.RawMessage, 0, len(byName))
			for i := 1; i <= len(byName); i++ {
				if item, ok := byName["link_"+strconv.Itoa(i)]; ok {
					items = append(items, item)
				}
			}
			return items, true
		}
	}
	return nil, false
}

// decodeItem reads an item into v, or says why not.
func decodeItem(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("%s is not a %s", typ.Field, typ.Type)
		}
		return fmt.Errorf("not an object of a link")
	}
	return nil
}

// timeField is a time of a record to read: where it goes, its name in the export, its text.
type timeField struct {
	to        **time.Time
	name, raw string
}

// parseTimes reads the times as the shorteners write them (backend.ParseLooseTime), or says which is not one.
func parseTimes(fields ...timeField) error {
	for _, f := range fields {
		t, ok := backend.ParseLooseTime(f.raw)
		if !ok {
			return fmt.Errorf("%s %.40q is not a date", f.name, f.raw)
		}
		*f.to = t
	}
	return nil
}

// codeOfShortURL splits a short URL ("https://s.example/abc" or
// "bit.ly/abc") into its host and code.
func codeOfShortURL(raw string) (domain, code string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", ""
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	return strings.ToLower(u.Hostname()), strings.Trim(u.Path, "/")
}

// flexInt is a count written as a number or a string ("12", as YOURLS does).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%.20s is not a count", b)
	}
	*f = flexInt(n)
	return nil
}

func shlinkRecord(raw json.RawMessage) backend.ImportRecord {
	var v struct {
		ShortCode     string   `json:"shortCode"`
		Domain        *string  `json:"domain"`
		LongURL       string   `json:"longUrl"`
		DateCreated   string   `json:"dateCreated"`
		Tags          []string `json:"tags"`
		Title         *string  `json:"title"`
		VisitsCount   flexInt  `json:"visitsCount"` // Shlink before 3.4
		VisitsSummary *struct {
			Total flexInt `json:"total"`
		} `json:"visitsSummary"`
		Meta struct {
			ValidSince *string `json:"validSince"`
			ValidUntil *string `json:"validUntil"`
			MaxVisits  *int64  `json:"maxVisits"`
		} `json:"meta"`
	}
	if err := decodeItem(raw, &v); err != nil {
		return backend.ImportRecord{Err: err}
	}
	r := backend.ImportRecord{Code: v.ShortCode, URL: v.LongURL, Tags: v.Tags, MaxVisits: v.Meta.MaxVisits, Visits: int64(v.VisitsCount)}
	if v.Domain != nil {
		r.Domain = *v.Domain
	}
	if v.Title != nil {
		r.Title = *v.Title
	}
	if v.VisitsSummary != nil {
		r.Visits = int64(v.VisitsSummary.Total)
	}
	r.Err = parseTimes(timeField{&r.CreatedAt, "dateCreated", v.DateCreated},
		timeField{&r.ValidSince, "validSince", deref(v.Meta.ValidSince)}, timeField{&r.ExpiresAt, "validUntil", deref(v.Meta.ValidUntil)})
	return r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func yourlsRecord(raw json.RawMessage) backend.ImportRecord {
	var v struct {
		Keyword   string  `json:"keyword"`
		ShortURL  string  `json:"shorturl"` // the stats action's links
		URL       string  `json:"url"`
		Title     string  `json:"title"`
		Timestamp string  `json:"timestamp"`
		Clicks    flexInt `json:"clicks"`
	}
	if err := decodeItem(raw, &v); err != nil {
		return backend.ImportRecord{Err: err}
	}
	r := backend.ImportRecord{Code: v.Keyword, URL: v.URL, Title: v.Title, Visits: int64(v.Clicks)}
	if r.Code == "" {
		r.Domain, r.Code = codeOfShortURL(v.ShortURL)
	}
	r.Err = parseTimes(timeField{&r.CreatedAt, "timestamp", v.Timestamp})
	return r
}

func kuttRecord(raw json.RawMessage) backend.ImportRecord {
	var v struct {
		Address     string  `json:"address"`
		Target      string  `json:"target"`
		Domain      *string `json:"domain"`
		Description *string `json:"description"`
		CreatedAt   string  `json:"created_at"`
		ExpireIn    *string `json:"expire_in"`
		VisitCount  flexInt `json:"visit_count"`
	}
	if err := decodeItem(raw, &v); err != nil {
		return backend.ImportRecord{Err: err}
	}
	r := backend.ImportRecord{Code: v.Address, URL: v.Target, Title: deref(v.Description), Domain: deref(v.Domain), Visits: int64(v.VisitCount)}
	r.Err = parseTimes(timeField{&r.CreatedAt, "created_at", v.CreatedAt}, timeField{&r.ExpiresAt, "expire_in", deref(v.ExpireIn)})
	return r
}

func bitlyRecord(raw json.RawMessage) backend.ImportRecord {
	var v struct {
		Link           string   `json:"link"`
		ID             string   `json:"id"`
		LongURL        string   `json:"long_url"`
		Title          string   `json:"title"`
		CreatedAt      string   `json:"created_at"`
		Tags           []string `json:"tags"`
		CustomBitlinks []string `json:"custom_bitlinks"`
	}
	if err := decodeItem(raw, &v); err != nil {
		return backend.ImportRecord{Err: err}
	}
	short := v.Link
	if len(v.CustomBitlinks) > 0 {
		short = v.CustomBitlinks[0]
	} else if short == "" {
		short = v.ID
	}
	r := backend.ImportRecord{URL: v.LongURL, Title: v.Title, Tags: v.Tags}
	r.Domain, r.Code = codeOfShortURL(short)
	if r.Domain == "bit.ly" || r.Domain == "j.mp" {
		r.Domain = "" // Bitly's own domains: the code moves to kurz's default domain
	}
	r.Err = parseTimes(timeField{&r.CreatedAt, "created_at", v.CreatedAt})
	return r
}

// columns name the CSV headers of each field, written lowercase without spaces or underscores.
type columns map[string][]string

var csvColumns = columns{
	"url": {"longurl", "url", "target"}, "code": {"shortcode", "code", "keyword"}, "domain": {"domain"}, "title": {"title"},
	"tags": {"tags"}, "shorturl": {"shorturl"}, "created": {"createdat", "datecreated", "created", "timestamp"},
	"visits": {"visits", "clicks", "visitscount"},
}

var yourlsColumns = columns{
	"url": {"url"}, "code": {"keyword"}, "title": {"title"}, "created": {"timestamp"}, "visits": {"clicks"},
}

// readCSV reads a CSV export with a header row; a line is a record's "line".
func readCSV(r io.Reader, cols columns) iter.Seq[backend.ImportRecord] {
	return func(yield func(backend.ImportRecord) bool) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord, cr.LazyQuotes, cr.ReuseRecord = -1, true, true
		header, err := cr.Read()
		if err != nil {
			yield(backend.ImportRecord{Line: 1, Err: fmt.Errorf("no header row: %v", err)})
			return
		}
		at := map[string]int{}
		for i, h := range header {
			name := strings.NewReplacer(" ", "", "_", "", "\ufeff", "").Replace(strings.ToLower(strings.TrimSpace(h)))
			for field, names := range cols {
				for _, n := range names {
					if name == n {
						if _, taken := at[field]; !taken {
							at[field] = i
						}
					}
				}
			}
		}
		_, hasURL := at["url"]
		if !hasURL {
			yield(backend.ImportRecord{Line: 1, Err: fmt.Errorf("the header row has no Long URL column")})
			return
		}
		for {
			row, err := cr.Read()
			line, _ := cr.FieldPos(0)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !yield(backend.ImportRecord{Line: line, Err: err}) {
					return
				}
				continue
			}
			get := func(field string) string {
				if i, ok := at[field]; ok && i < len(row) {
					return strings.TrimSpace(row[i])
				}
				return ""
			}
			rec := backend.ImportRecord{Line: line, URL: get("url"), Code: get("code"), Domain: get("domain"), Title: get("title")}
			if rec.Code == "" {
				if domain, code := codeOfShortURL(get("shorturl")); code != "" {
					rec.Code = code
					if rec.Domain == "" {
						rec.Domain = domain
					}
				}
			}
			if tags := get("tags"); tags != "" {
				sep := ","
				if strings.Contains(tags, "|") {
					sep = "|"
				}
				for _, t := range strings.Split(tags, sep) {
					if t = strings.TrimSpace(t); t != "" {
						rec.Tags = append(rec.Tags, t)
					}
				}
			}
			if v := get("visits"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					rec.Err = fmt.Errorf("visits %.20q is not a count", v)
				}
				rec.Visits = n
			}
			if rec.Err == nil {
				rec.Err = parseTimes(timeField{&rec.CreatedAt, "created", get("created")})
			}
			if !yield(rec) {
				return
			}
		}
	}
}
