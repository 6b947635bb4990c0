package blob_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/orcahq/orca/internal/blob"
)

func TestValidateContainer(t *testing.T) {
	for _, name := range []string{"abc", "a-b", "a-b-c", "0ab", "ab0", "123", strings.Repeat("a", 63), "input", "output"} {
		if err := blob.ValidateContainer(name); err != nil {
			t.Errorf("ValidateContainer(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "a", "ab", strings.Repeat("a", 64), "Abc", "aBc", "ab_c", "ab.c", "ab c", "-abc",
		"abc-", "a--b", "ab/c", "abc\x00", "äbc", "ab\u200bc"} {
		if err := blob.ValidateContainer(name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("ValidateContainer(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"a", "input/abc/0.json", "a.b", "...", "a/.../b", ".hidden", "a..b/c", "with space",
		"日本語/ファイル", "😀", "a%2F..%2Fb", strings.Repeat("x", blob.MaxNameLength), strings.Repeat("a/", 511) + "bc"} {
		if err := blob.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/..", "../a", "a/../b", "./a", "a/./b", "/a", "/", "a/", "a//b", `a\b`,
		`..\..\etc`, "a\x00", "a\r\nb", "\x1b[31m", "a\u0085", "\xff", "a\xc3", strings.Repeat("x", blob.MaxNameLength+1)} {
		if err := blob.ValidateName(name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := blob.Validate("abc", "x"); err != nil {
		t.Fatal(err)
	}
	if err := blob.Validate("AB", "x"); !errors.Is(err, blob.ErrInvalidName) {
		t.Fatalf("bad container: %v", err)
	}
	if err := blob.Validate("abc", "../x"); !errors.Is(err, blob.ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

// FuzzValidateName checks that an accepted name is safe to use as a relative path under a
// directory and as a URL path: it cannot escape, is not absolute, has no empty segments, and
// that a rejection is always an ErrInvalidName.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../a", "a/../b", "/a", "a//b", `a\b`, "a\x00", "日本", "\xff", ".", "a/.", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := blob.ValidateName(name)
		if err != nil {
			if !errors.Is(err, blob.ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, which does not wrap ErrInvalidName", name, err)
			}
			return
		}
		switch {
		case name == "" || len(name) > blob.MaxNameLength:
			t.Fatalf("accepted %q of length %d", name, len(name))
		case !utf8.ValidString(name):
			t.Fatalf("accepted invalid UTF-8 %q", name)
		case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, `\`):
			t.Fatalf("accepted %q", name)
		case strings.IndexFunc(name, unicode.IsControl) >= 0:
			t.Fatalf("accepted a control character in %q", name)
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", name, seg)
			}
		}
	})
}

// FuzzValidateContainer checks that an accepted container name follows Azure's rules, which
// also make it a safe directory name and DNS label.
func FuzzValidateContainer(f *testing.F) {
	for _, s := range []string{"abc", "a-b", "ab", "a--b", "-ab", "Abc", strings.Repeat("a", 63), strings.Repeat("a", 64), "äbc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := blob.ValidateContainer(name)
		if err != nil {
			if !errors.Is(err, blob.ErrInvalidName) {
				t.Fatalf("ValidateContainer(%q) = %v, which does not wrap ErrInvalidName", name, err)
			}
			return
		}
		if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--") {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range []byte(name) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				t.Fatalf("accepted %q with byte %q", name, c)
			}
		}
	})
}
