// Package migrations embeds the numbered SQL migrations (NNN_name.sql, tern's
// format) that the backend applies at start under a Postgres advisory lock.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
