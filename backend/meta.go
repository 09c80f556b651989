package backend

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxTags bounds the tags of one link.
	MaxTags = 20
	// MaxTagLength bounds one tag, in characters.
	MaxTagLength = 64
	// MaxTitleLength bounds a link's title, in characters.
	MaxTitleLength = 512
)

// Meta is what describes a link besides its target: set at create and edit,
// listed and filtered on, never needed to redirect.
type Meta struct {
	Tags       []string   // normalized (NormalizeTags); nil: none
	Title      string     // "": none
	ValidSince *time.Time // nil: from its creation
	Crawlable  bool       // listed as Allow in /robots.txt
	// ForwardQuery appends a visitor's query string to the target (link.ForwardQuery).
	ForwardQuery bool
}

// NormalizeTags trims and lowercases each tag and writes inner spaces as
// "-" (as Shlink does, so that "Summer Sale" and "summer-sale" are one tag),
// drops repeats and keeps the order; a tag that is empty, too long or holds
// a control character, a comma, or too many tags, is EINVALIDFIELD.
func NormalizeTags(tags []string) ([]string, error) {
	if len(tags) > MaxTags {
		return nil, FieldErrorf("tags", "a link has at most %d tags, not %d", MaxTags, len(tags))
	}
	var out []string
	seen := map[string]bool{}
	for _, raw := range tags {
		tag := strings.Join(strings.Fields(strings.ToLower(raw)), "-")
		switch {
		case tag == "":
			return nil, FieldErrorf("tags", "a tag cannot be empty")
		case !utf8.ValidString(tag) || strings.ContainsFunc(tag, unicode.IsControl) || strings.Contains(tag, ","):
			return nil, FieldErrorf("tags", "tag %q holds a comma or a control character", raw)
		case utf8.RuneCountInString(tag) > MaxTagLength:
			return nil, FieldErrorf("tags", "a tag is at most %d characters; %q has %d", MaxTagLength, raw, utf8.RuneCountInString(tag))
		}
		if !seen[tag] {
			seen[tag] = true
			out = append(out, tag)
		}
	}
	return out, nil
}

// NormalizeTitle trims a title and refuses one too long or with control characters.
func NormalizeTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	switch {
	case !utf8.ValidString(title) || strings.ContainsFunc(title, unicode.IsControl):
		return "", FieldErrorf("title", "title must be text without control characters")
	case utf8.RuneCountInString(title) > MaxTitleLength:
		return "", FieldErrorf("title", "title is at most %d characters, not %d", MaxTitleLength, utf8.RuneCountInString(title))
	}
	return title, nil
}

// normalized is m with its tags and title normalized, or why it cannot be.
func (m Meta) normalized() (Meta, error) {
	var err error
	if m.Tags, err = NormalizeTags(m.Tags); err != nil {
		return m, err
	}
	m.Title, err = NormalizeTitle(m.Title)
	return m, err
}

// NotYetValid reports whether l is before its valid_since at now.
func (l Link) NotYetValid(now time.Time) bool {
	return l.ValidSince != nil && now.Before(*l.ValidSince)
}

// CheckWindow refuses an expiry that is not after valid_since; stores call
// it on a link as a change leaves it.
func (l Link) CheckWindow() error {
	if l.ValidSince != nil && l.ExpiresAt != nil && !l.ExpiresAt.After(*l.ValidSince) {
		return FieldErrorf("expires_at", "expires_at (valid until) must be after valid_since")
	}
	return nil
}
