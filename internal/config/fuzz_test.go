package config

import (
	"strings"
	"testing"
)

// FuzzParseDotenv: any .env text either is refused with a line number or
// parses into keys without spaces or quotes; and what it parsed, written
// back as KEY='value' lines, parses to the same map.
func FuzzParseDotenv(f *testing.F) {
	for _, seed := range []string{
		"", "A=1\n", "export B = two words # c\n", `C="q \"x\" #not"`, "D='single # kept'", "# x=y\nE=\r\n",
		"F", "=x", `G="unterminated`, "H='open", `I="a\nb\\"`, "J=1=2", "K\t=\t'v'", "\xff=\xfe", "L=\"\\\\\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		got, err := ParseDotenv(data)
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		var again strings.Builder
		for k, v := range got {
			if k == "" || strings.ContainsAny(k, " \t\"'\n=#") {
				t.Fatalf("key %q from %q", k, data)
			}
			if strings.ContainsAny(v, "'\n") || strings.TrimSpace(v) != v {
				return // not expressible as KEY='value'; the round trip does not apply
			}
			again.WriteString(k + "='" + v + "'\n")
		}
		back, err := ParseDotenv(again.String())
		if err != nil || len(back) != len(got) {
			t.Fatalf("round trip of %q: %v, %v", again.String(), back, err)
		}
		for k, v := range got {
			if back[k] != v {
				t.Fatalf("round trip: %s = %q, then %q", k, v, back[k])
			}
		}
	})
}
