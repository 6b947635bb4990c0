package config

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	cases := map[string][]string{
		`python3 algo.py`:               {"python3", "algo.py"},
		`  sh   -c  'echo $X; exit 3' `: {"sh", "-c", "echo $X; exit 3"},
		`a "b c" d\ e`:                  {"a", "b c", "d e"},
		`"say \"hi\"" 'it''s'`:          {`say "hi"`, "its"},
		`x=""`:                          {"x="},
		``:                              nil,
	}
	for in, want := range cases {
		got, err := SplitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `trailing\`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) accepted", bad)
		}
	}
}

func FuzzSplitCommand(f *testing.F) {
	f.Add(`sh -c 'echo "a b"' \x`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = SplitCommand(s) // must not panic
	})
}
