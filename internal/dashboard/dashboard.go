// Package dashboard is orca's monitoring page: static assets embedded in the binary (HTML, CSS
// and JavaScript written by hand, no build step) and a Sampler that keeps a bounded time series
// of the work queue, the worker pools and the item counters, so a page opened now can draw the
// last minutes. The API serves both (internal/api): the page at / and /ui/, the series at
// /api/dashboard/series. The page reads everything else from the public API with the user's key.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"sync"
)

//go:embed assets
var assetFS embed.FS

// Asset is an embedded file of the page.
type Asset struct {
	Name        string
	Content     []byte
	ContentType string
	// ETag is a strong validator of Content.
	ETag string
}

// IndexName is the page's HTML document, served at /.
const IndexName = "index.html"

var loadAssets = sync.OnceValue(func() map[string]*Asset {
	out := map[string]*Asset{}
	// Walking files compiled into the binary cannot fail; TestAssets checks what is there.
	_ = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := p[len("assets/"):]
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[name] = &Asset{Name: name, Content: b, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out
})

// LookupAsset returns the embedded file name ("index.html", "app.js"...); ok is false for any
// other name.
func LookupAsset(name string) (a *Asset, ok bool) {
	a, ok = loadAssets()[name]
	return a, ok
}
