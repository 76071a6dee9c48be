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

// IsOwner reports whether the role may change access: visibility, link
// role, members and ownership, and delete the document.
func (r Role) IsOwner() bool { return r == RoleOwner }

// rank orders roles by what they allow.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// ValidMemberRole reports whether r may be given to a member or as a link
// role: editor or viewer (ownership is transferred, not given).
func ValidMemberRole(r Role) bool { return r == RoleEditor || r == RoleViewer }

// Visibility says who, besides the owner and the members, has access.
type Visibility string

const (
	// VisibilityPublic: listed, and every signed-in user gets the link
	// role; readable without signing in.
	VisibilityPublic Visibility = "public"
	// VisibilityLink: not listed; every signed-in user who has the id gets
	// the link role.
	VisibilityLink Visibility = "link"
	// VisibilityPrivate: the owner and the members only.
	VisibilityPrivate Visibility = "private"
)

// ValidVisibility reports whether v is one of the three visibilities.
func ValidVisibility(v Visibility) bool {
	return v == VisibilityPublic || v == VisibilityLink || v == VisibilityPrivate
}

// Member is a user with a role on a document (the owner is listed as one,
// with RoleOwner).
type Member struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Role     Role   `json:"role"`
}

// EffectiveVisibility is d.Visibility, or for a value built without one,
// what Public says (public or private).
func (d *Document) EffectiveVisibility() Visibility {
	if ValidVisibility(d.Visibility) {
		return d.Visibility
	}
	if d.Public {
		return VisibilityPublic
	}
	return VisibilityPrivate
}

// EffectiveLinkRole is d.LinkRole, editor when unset.
func (d *Document) EffectiveLinkRole() Role {
	if ValidMemberRole(d.LinkRole) {
		return d.LinkRole
	}
	return RoleEditor
}

// RoleOf is the one access rule: the role userID ("" for a caller who is not
// signed in) has on d. The owner owns it. A signed-in user gets the better
// of their member role (d.Members) and, on a public or link document, the
// link role. Without signing in, a public document is readable and nothing
// else is. d.Members must hold userID's membership for the answer to count
// it: DocumentStore.Document fills every member, Documents the lister's.
func (d *Document) RoleOf(userID string) Role {
	if userID == "" {
		if d.EffectiveVisibility() == VisibilityPublic {
			return RoleViewer
		}
		return RoleNone
	}
	if userID == d.OwnerID {
		return RoleOwner
	}
	role := d.Members[userID]
	if !ValidMemberRole(role) {
		role = RoleNone
	}
	if v := d.EffectiveVisibility(); v == VisibilityPublic || v == VisibilityLink {
		if link := d.EffectiveLinkRole(); link.rank() > role.rank() {
			role = link
		}
	}
	return role
}
