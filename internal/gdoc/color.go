package gdoc

import "hash/fnv"

// userPalette holds colours readable on both light and dark editor themes.
var userPalette = []string{
	"#e06c75", "#61afef", "#98c379", "#c678dd", "#d19a66", "#56b6c2",
	"#e5c07b", "#be5046", "#528bff", "#3fb950", "#d16d9e", "#f0883e",
}

// UserColor is the user's colour for cursors, presence and blame: stable
// across connections, instances and restarts because it depends on the user
// id alone.
func UserColor(userID string) string {
	h := fnv.New32a()
	h.Write([]byte(userID))
	return userPalette[h.Sum32()%uint32(len(userPalette))]
}
