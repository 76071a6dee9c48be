package gdoc

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := fmt.Errorf("loading: %w", Errorf(ENOTFOUND, "No document %q.", "x"))
	for _, c := range []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{Errorf(EINVALID, "Bad %s.", "op"), EINVALID, "Bad op."},
		{wrapped, ENOTFOUND, `No document "x".`},
		{errors.New("disk on fire"), EINTERNAL, "Internal error."}, // details stay in the logs
	} {
		if got := ErrorCode(c.err); got != c.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.code)
		}
		if got := ErrorMessage(c.err); got != c.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", c.err, got, c.msg)
		}
	}
}

func TestValidDocumentID(t *testing.T) {
	for id, want := range map[string]bool{
		"1": true, "my-project": true, "A_b-9": true, string(make([]byte, 64)): false,
		"": false, "-x": false, "_x": false, "a b": false, "a/b": false, "é": false,
		"a123456789012345678901234567890123456789012345678901234567890123":  true,
		"a1234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if got := ValidDocumentID(id); got != want {
			t.Errorf("ValidDocumentID(%q) = %v, want %v", id, got, want)
		}
	}
}
