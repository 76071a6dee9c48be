package gdoc

import "testing"

func TestRoleOf(t *testing.T) {
	doc := func(v Visibility, link Role) *Document {
		return &Document{OwnerID: "1", Visibility: v, LinkRole: link, Public: v == VisibilityPublic,
			Members: map[string]Role{"2": RoleViewer, "3": RoleEditor}}
	}
	for _, c := range []struct {
		name string
		d    *Document
		user string
		want Role
	}{
		{"owner of private", doc(VisibilityPrivate, RoleEditor), "1", RoleOwner},
		{"viewer member of private", doc(VisibilityPrivate, RoleEditor), "2", RoleViewer},
		{"editor member of private", doc(VisibilityPrivate, RoleEditor), "3", RoleEditor},
		{"stranger to private", doc(VisibilityPrivate, RoleEditor), "9", RoleNone},
		{"anonymous on private", doc(VisibilityPrivate, RoleEditor), "", RoleNone},
		{"stranger on link, editor", doc(VisibilityLink, RoleEditor), "9", RoleEditor},
		{"stranger on link, viewer", doc(VisibilityLink, RoleViewer), "9", RoleViewer},
		{"anonymous on link", doc(VisibilityLink, RoleEditor), "", RoleNone},
		{"viewer member on an editor link: the better role", doc(VisibilityLink, RoleEditor), "2", RoleEditor},
		{"editor member on a viewer link: the better role", doc(VisibilityPublic, RoleViewer), "3", RoleEditor},
		{"stranger on public", doc(VisibilityPublic, RoleEditor), "9", RoleEditor},
		{"anonymous on public reads", doc(VisibilityPublic, RoleEditor), "", RoleViewer},
		{"seed-shaped public document", &Document{OwnerID: "1", Public: true}, "9", RoleEditor},
		{"seed-shaped private document", &Document{OwnerID: "1"}, "9", RoleNone},
		{"a bad stored member role counts for nothing", &Document{OwnerID: "1", Visibility: VisibilityPrivate, Members: map[string]Role{"2": "admin"}}, "2", RoleNone},
	} {
		if got := c.d.RoleOf(c.user); got != c.want {
			t.Errorf("%s: RoleOf(%q) = %q, want %q", c.name, c.user, got, c.want)
		}
	}
	if RoleViewer.CanEdit() || !RoleViewer.CanRead() || !RoleEditor.CanEdit() || RoleEditor.IsOwner() || RoleNone.CanRead() {
		t.Error("role predicates")
	}
}
