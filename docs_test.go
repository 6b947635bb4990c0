package orca_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
	slugDrop  = regexp.MustCompile(`[^\p{L}\p{N}\s_-]`)
)

// TestDocsLinksResolve reads the README, the CHANGELOG and docs/ as a user of a clone would:
// every relative link names a file of the repository (and a heading of it, for an anchor), and
// nothing points at the workspace outside the repository (../shared/…), which a clone lacks.
func TestDocsLinksResolve(t *testing.T) {
	files := []string{"README.md", "CHANGELOG.md"}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("docs/*.md: %v %v", docs, err)
	}
	files = append(files, docs...)
	for _, file := range files {
		text := readFile(t, file)
		if strings.Contains(text, "../shared") {
			t.Errorf("%s mentions ../shared, a folder outside the repository", file)
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			resolved := file
			if path != "" {
				resolved = filepath.Join(filepath.Dir(file), path)
				if strings.HasPrefix(filepath.Clean(resolved), "..") {
					t.Errorf("%s links to %s, outside the repository", file, target)
					continue
				}
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s links to %s: %v", file, target, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(resolved, ".md") && !hasHeading(readFile(t, resolved), anchor) {
				t.Errorf("%s links to %s: %s has no heading #%s", file, target, resolved, anchor)
			}
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hasHeading reports whether a Markdown text has a heading whose GitHub anchor is anchor.
func hasHeading(text, anchor string) bool {
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		slug := strings.ToLower(slugDrop.ReplaceAllString(strings.ReplaceAll(m[1], "`", ""), ""))
		if strings.ReplaceAll(slug, " ", "-") == anchor {
			return true
		}
	}
	return false
}
