// Package web holds bokujo's built web UI: the React app in this directory,
// compiled by `make web` (hack/web.sh) into dist/ and embedded in the
// binary. internal/web serves it.
//
// The embed lives here, beside its sources, because go:embed cannot reach
// outside its package's directory.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built UI: index.html and static files at its root, hashed
// bundles under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid name, and "dist" is valid.
		panic(err)
	}
	return sub
}
