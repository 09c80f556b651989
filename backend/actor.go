package backend

import "github.com/kurzlink/kurz/link"

// Role is what an API key may do.
type Role string

const (
	// RoleAdmin manages every link.
	RoleAdmin Role = "admin"
	// RoleAuthor manages only the links created with its own key.
	RoleAuthor Role = "author"
)

// ParseRole accepts the names of the roles.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleAuthor:
		return r, nil
	}
	return "", Errorf(EINVALID, "role must be admin or author, not %q", s)
}

// Actor is who makes a request: the key it came with, or nobody (KeyID 0).
type Actor struct {
	KeyID  int64
	Name   string // its key's name
	Role   Role
	Domain *string // the one domain its key may manage (as stored); nil: every domain
}

// Anonymous is a request without a key.
var Anonymous = Actor{}

// system is kurz itself reading a link for a public purpose (a QR code, a
// report): it sees every link, like an admin, and changes none.
var system = Actor{Role: RoleAdmin}

// CanManage reports whether a may see and change l: admins every link,
// authors the links created with their key; anonymous links only admins.
func (a Actor) CanManage(l Link) bool {
	if !a.Reaches(l.Key()) {
		return false
	}
	return a.Role == RoleAdmin || (a.Role == RoleAuthor && l.OwnerKeyID != nil && *l.OwnerKeyID == a.KeyID)
}

// CreatesOn is the domain a create by a goes to: the requested one (as
// stored; named false when the request named none), which a key limited
// to a domain must leave unnamed or name its own: else EFORBIDDEN.
func (a Actor) CreatesOn(requested string, named bool) (string, error) {
	switch {
	case a.Domain == nil:
		return requested, nil
	case !named || requested == *a.Domain:
		return *a.Domain, nil
	}
	return "", Errorf(EFORBIDDEN, "this key makes and manages links of one domain only, not of the one asked for")
}

// Reaches reports whether a's key may manage a link of the key lk (link.Key) by its domain.
func (a Actor) Reaches(lk string) bool {
	domain, _ := link.SplitKey(lk)
	return a.ReachesDomain(domain)
}

// ReachesDomain reports whether a's key may manage the links of domain (as stored).
func (a Actor) ReachesDomain(domain string) bool { return a.Domain == nil || *a.Domain == domain }

// DomainScope is the domain the actor's queries are limited to: nil for every domain.
func (a Actor) DomainScope() *string { return a.Domain }

// Scope is the owner the actor's queries are limited to: nil for an admin (every link).
func (a Actor) Scope() *int64 {
	if a.Role == RoleAdmin {
		return nil
	}
	id := a.KeyID
	return &id
}
