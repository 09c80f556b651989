package backend

import (
	"strings"
	"time"
)

// looseLayouts are the ways other shorteners and their clients write a time:
// ISO 8601 with a zone (with or without its colon), without one (UTC), to the
// minute, MySQL's datetime (YOURLS), or a date alone (its midnight, UTC).
var looseLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04", time.DateTime, time.DateOnly}

// ParseLooseTime reads a time written in one of those ways; "" is nil.
func ParseLooseTime(raw string) (*time.Time, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, true
	}
	for _, layout := range looseLayouts {
		if t, err := time.Parse(layout, raw); err == nil {
			return &t, true
		}
	}
	return nil, false
}
