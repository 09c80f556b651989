// Package yaegiload loads the edge plugin the way Traefik does — a Yaegi
// interpreter with the plugin's GOPATH, import, CreateConfig, New — and drives
// load through it. Its tests are the proof that every code path interprets.
package yaegiload
