package dashboard

import (
	"strings"
	"testing"
)

func TestAssets(t *testing.T) {
	for _, name := range []string{IndexName, "app.js", "app.css", "favicon.svg", "charts.js", "overview.js", "instance.js", "api.js", "dom.js"} {
		a, ok := LookupAsset(name)
		if !ok || len(a.Content) == 0 || a.ETag == "" {
			t.Errorf("asset %s is missing or empty", name)
			continue
		}
		if !strings.Contains(a.ContentType, map[string]string{".html": "text/html", ".js": "javascript", ".css": "text/css",
			".svg": "image/svg+xml"}[name[strings.LastIndex(name, "."):]]) {
			t.Errorf("%s: Content-Type %q", name, a.ContentType)
		}
		// The page builds its DOM from data with textContent only: nothing may parse a string as HTML.
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(a.Content), sink) {
				t.Errorf("%s uses %s", name, sink)
			}
		}
	}
	if _, ok := LookupAsset("../dashboard.go"); ok {
		t.Error("a path outside the assets resolved")
	}
}
