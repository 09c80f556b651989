package http

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"

	"github.com/kurzlink/kurz/backend"
)

// statusOf is the one map from error codes to HTTP statuses.
var statusOf = map[string]int{
	backend.EINVALID:          http.StatusBadRequest,
	backend.EINVALIDURL:       http.StatusUnprocessableEntity,
	backend.EINVALIDFIELD:     http.StatusUnprocessableEntity,
	backend.EBLOCKED:          http.StatusUnprocessableEntity,
	backend.ETOOLARGE:         http.StatusRequestEntityTooLarge,
	backend.EUNSUPPORTED:      http.StatusUnsupportedMediaType,
	backend.ENOTFOUND:         http.StatusNotFound,
	backend.EGONE:             http.StatusGone,
	backend.EUNAUTHORIZED:     http.StatusUnauthorized,
	backend.EFORBIDDEN:        http.StatusForbidden,
	backend.EMETHODNOTALLOWED: http.StatusMethodNotAllowed,
	backend.ECONFLICT:         http.StatusConflict,
	backend.EUNAVAILABLE:      http.StatusServiceUnavailable,
	backend.EINTERNAL:         http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// error writes err as JSON; causes of server-side errors are logged, not sent.
func (s *server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := backend.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kurz"`)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = backend.ErrorMessage(err)
	s.respond(w, status, body)
}

func (s *server) respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("writing response failed", "err", err)
	}
}

// decode reads one JSON object of at most MaxBodyBytes with no unknown fields.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return backend.Errorf(backend.EUNSUPPORTED, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, s.cfg.MaxBodyBytes)
	}
	var extra json.RawMessage // anything after the object: another object is not an unknown field
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err, s.cfg.MaxBodyBytes)
		}
		return backend.Errorf(backend.EINVALID, "body must hold a single JSON object, and nothing after it")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return backend.Errorf(backend.ETOOLARGE, "body is larger than %d bytes", limit)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return backend.Errorf(backend.EINVALID, "body is not valid JSON")
	case errors.As(err, &typ) && typ.Field == "":
		return backend.Errorf(backend.EINVALID, "body must be a JSON object such as {\"url\": \"https://example.com/\"}")
	case errors.As(err, &typ):
		return backend.Errorf(backend.EINVALID, "field %q must be %s", typ.Field, jsonKind(typ.Type))
	case errors.Is(err, io.EOF):
		return backend.Errorf(backend.EINVALID, "body is empty")
	default:
		// json reports unknown fields only as text: `json: unknown field "x"`.
		return backend.Wrap(backend.EINVALID, err, trimJSONPrefix(err.Error()))
	}
}

// jsonKind says in JSON's words what a Go type accepts.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

func trimJSONPrefix(msg string) string {
	const p = "json: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}
