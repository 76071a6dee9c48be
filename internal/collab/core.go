package collab

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// rebase is the authority's core (ot.js lib/server.js): op was written
// against some revision, history lists in order the ops committed since
// then, and the result is op as it must be committed at the head. The
// incoming op goes on the Left side, as ShareDB does, so of two inserts at
// one position the one committed later ends up first; clients following the
// one-op-in-flight algorithm transform the same way and converge.
func rebase(op ot.Op, history []ot.Op) (ot.Op, error) {
	for i, other := range history {
		var err error
		if op, err = ot.Transform(op, other, ot.Left); err != nil {
			return nil, fmt.Errorf("transforming over committed op %d of %d: %w", i+1, len(history), err)
		}
	}
	return op, nil
}

// invertOn returns the op that undoes op on text, computed before op is
// applied (deletes need the text they remove). It fails when op does not
// fit text.
func invertOn(text *ot.Text, op ot.Op) (ot.Op, error) {
	invertible := make(ot.Op, len(op))
	pos, length := 0, text.Len()
	for i, c := range op {
		invertible[i] = c
		switch {
		case c.Skip > 0:
			pos += c.Skip
		case c.Delete > 0:
			if pos+c.Delete > length {
				return nil, fmt.Errorf("op component %d deletes past the end of the text", i)
			}
			removed := text.Slice(pos, pos+c.Delete)
			if c.DeleteText != "" && c.DeleteText != removed {
				return nil, fmt.Errorf("op component %d deletes a text that differs from the document's", i)
			}
			invertible[i].DeleteText = removed
			pos += c.Delete
		}
		if pos > length {
			return nil, fmt.Errorf("op component %d skips past the end of the text", i)
		}
	}
	return ot.Invert(invertible)
}

// palette holds colors readable on both light and dark editor themes.
var palette = []string{
	"#e06c75", "#61afef", "#98c379", "#c678dd", "#d19a66", "#56b6c2",
	"#e5c07b", "#be5046", "#528bff", "#3fb950", "#d16d9e", "#f0883e",
}

// colorFor returns the user's color: stable across connections, instances
// and restarts because it depends on the user id alone.
func colorFor(userID string) string {
	h := fnv.New32a()
	h.Write([]byte(userID))
	return palette[h.Sum32()%uint32(len(palette))]
}

// maxChatRunes bounds one chat message (docs/protocol.md).
const maxChatRunes = 2000

// cleanChat trims message and checks it is 1..maxChatRunes code points of
// valid UTF-8 (which rules out lone surrogates).
func cleanChat(message string) (string, error) {
	if !utf8.ValidString(message) {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must be valid Unicode text.")
	}
	message = strings.TrimSpace(message)
	n := utf8.RuneCountInString(message)
	if n == 0 {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must not be empty.")
	}
	if n > maxChatRunes {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must be at most %d characters, not %d.", maxChatRunes, n)
	}
	return message, nil
}

// groupUsers turns live connections into one ActiveUser per user, in order
// of each user's first connection.
func groupUsers(parts []gdoc.Participant) []gdoc.ActiveUser {
	var users []gdoc.ActiveUser
	index := make(map[string]int)
	for _, p := range parts {
		if i, ok := index[p.UserID]; ok {
			users[i].Connections++
			continue
		}
		index[p.UserID] = len(users)
		color := p.Color
		if color == "" {
			color = colorFor(p.UserID)
		}
		users = append(users, gdoc.ActiveUser{UserID: p.UserID, Username: p.Username, Color: color, Connections: 1})
	}
	return users
}
