package backend

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
	KeyID int64
	Role  Role
}

// Anonymous is a request without a key.
var Anonymous = Actor{}

// system is kurz itself reading a link for a public purpose (a QR code, a
// report): it sees every link, like an admin, and changes none.
var system = Actor{Role: RoleAdmin}

// CanManage reports whether a may see and change l: admins every link,
// authors the links created with their key; anonymous links only admins.
func (a Actor) CanManage(l Link) bool {
	return a.Role == RoleAdmin || (a.Role == RoleAuthor && l.OwnerKeyID != nil && *l.OwnerKeyID == a.KeyID)
}

// Scope is the owner the actor's queries are limited to: nil for an admin (every link).
func (a Actor) Scope() *int64 {
	if a.Role == RoleAdmin {
		return nil
	}
	id := a.KeyID
	return &id
}
