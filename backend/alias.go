package backend

import (
	"strings"

	"github.com/kurzlink/kurz/link"
)

// reserved are paths of kurz itself, or likely to be one day.
var reserved = map[string]bool{
	"api": true, "health": true, "metrics": true, "static": true, "admin": true, "login": true,
	"logout": true, "openapi": true, "dashboard": true, "favicon": true, "robots": true, "qr": true,
	"manage": true, "rest": true, // Shlink's API
}

// ValidateAlias checks a custom code: 3 to 64 characters of the code alphabet, not reserved.
func ValidateAlias(alias string) error {
	if !link.IsAlias(alias) {
		return FieldErrorf("alias", "alias must be %d to %d characters of A-Z, a-z, 0-9, - and _", link.AliasMinLength, link.AliasMaxLength)
	}
	if reserved[strings.ToLower(alias)] {
		return FieldErrorf("alias", "alias %q is reserved", alias)
	}
	return nil
}
