package collab

import (
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
)

func TestColorIsStableAndFromPalette(t *testing.T) {
	seen := make(map[string]bool)
	for _, id := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"} {
		c := colorFor(id)
		if c != colorFor(id) {
			t.Fatalf("color of %s changes", id)
		}
		seen[c] = true
	}
	if len(seen) < 5 {
		t.Fatalf("13 users share %d colors", len(seen))
	}
}

func TestGroupUsers(t *testing.T) {
	users := groupUsers([]gdoc.Participant{
		{ConnID: "a", UserID: "1", Username: "alice", Color: "#111111"},
		{ConnID: "b", UserID: "2", Username: "bob"},
		{ConnID: "c", UserID: "1", Username: "alice", Color: "#111111"},
	})
	if len(users) != 2 || users[0].UserID != "1" || users[0].Connections != 2 || users[1].Connections != 1 || users[1].Color != colorFor("2") {
		t.Fatalf("groupUsers = %+v", users)
	}
}
