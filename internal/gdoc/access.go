package gdoc

// Role is what a user may do with a document. The zero value is no access.
type Role string

const (
	RoleNone   Role = ""
	RoleViewer Role = "viewer" // read, chat and cursor; no edits
	RoleEditor Role = "editor" // read, edit, chat, cursor
	RoleOwner  Role = "owner"  // everything
)

// CanRead reports whether the role may see the document at all.
func (r Role) CanRead() bool { return r != RoleNone }

// CanEdit reports whether the role may change the document's text.
func (r Role) CanEdit() bool { return r == RoleEditor || r == RoleOwner }

// RoleOf is the one access rule: the role userID ("" for a caller who is not
// signed in) has on d. Today: the owner owns it; on a public document every
// signed-in user edits and anyone may read; a private one is the owner's alone.
func (d *Document) RoleOf(userID string) Role {
	switch {
	case userID != "" && userID == d.OwnerID:
		return RoleOwner
	case d.Public && userID != "":
		return RoleEditor
	case d.Public:
		return RoleViewer
	}
	return RoleNone
}
