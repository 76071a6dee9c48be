package collab

import (
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
)

func TestCleanChat(t *testing.T) {
	if got, err := cleanChat("  hi 👋 \n"); err != nil || got != "hi 👋" {
		t.Fatalf("cleanChat = %q, %v", got, err)
	}
	long := make([]rune, gdoc.MaxChatChars)
	for i := range long {
		long[i] = '😀'
	}
	if _, err := cleanChat(string(long)); err != nil {
		t.Fatalf("2000 emoji refused: %v", err)
	}
	for _, bad := range []string{"", "   \t\n", string(long) + "x", "a\xed\xa0\x80b" /* a surrogate in UTF-8 */, "\xff"} {
		if _, err := cleanChat(bad); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("cleanChat(%q) error = %v, want EINVALID", bad, err)
		}
	}
}
