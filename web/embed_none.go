//go:build !webdist

package web

import "io/fs"

// Assets returns the built web client (web/dist), or nil when the binary was
// built without it: plain `go build ./cmd/gdoc` works on a fresh checkout,
// and the server then serves a page saying how to build the client.
func Assets() fs.FS { return nil }
