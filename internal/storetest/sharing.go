package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// sharingTests cover visibility, link roles, members, ownership transfer,
// tombstones and the creation count (issue 9).
var sharingTests = []struct {
	name string
	fn   func(t *testing.T, s gdoc.Store)
}{
	{"Sharing/DefaultsFollowPublic", testSharingDefaults},
	{"Sharing/ErrBadVisibilityOrLinkRole", testSharingBadValues},
	{"Sharing/SetDocumentAccess", testSetDocumentAccess},
	{"Sharing/UpdateDocumentMetaPublicSetsVisibility", testMetaPublicSetsVisibility},
	{"Sharing/Members", testMembers},
	{"Sharing/ErrMembers", testMembersErrors},
	{"Sharing/DocumentsListsShared", testDocumentsListsShared},
	{"Sharing/TransferOwnership", testTransferOwnership},
	{"Sharing/DeletedIDIsNotCreatedAgain", testTombstone},
	{"Sharing/DocumentsCreatedSince", testDocumentsCreatedSince},
	{"Sharing/DocumentsByID", testDocumentsByID},
	{"Sharing/DocumentMeta", testDocumentMeta},
	{"Sharing/CreateDocumentsUnlessDeleted", testCreateDocuments},
}

// CreateDocumentsUnlessDeleted stores the documents it may in one go and
// refuses each of the others on its own.
func testCreateDocuments(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	mustDoc(t, s, "taken", alice.ID, true)
	mustDoc(t, s, "gone", alice.ID, true)
	must(t, s.DeleteDocument(ctx, "gone"))
	doc := func(id, owner string) *gdoc.Document {
		return &gdoc.Document{ID: id, Title: id, Language: "plaintext", OwnerID: owner, Public: true, Visibility: gdoc.VisibilityPublic}
	}
	docs := []*gdoc.Document{doc("a", alice.ID), doc("taken", alice.ID), doc("gone", alice.ID), doc("bad id!", alice.ID),
		doc("a", alice.ID), doc("b", alice.ID), doc("c", "424242")}
	out := s.CreateDocumentsUnlessDeleted(ctx, docs)
	want := []string{"", gdoc.ECONFLICT, gdoc.ENOTFOUND, gdoc.EINVALID, gdoc.ECONFLICT, "", gdoc.ENOTFOUND}
	if len(out) != len(docs) {
		t.Fatalf("%d outcomes for %d documents", len(out), len(docs))
	}
	for i, code := range want {
		if gdoc.ErrorCode(out[i]) != code && (code != "" || out[i] != nil) {
			t.Errorf("document %d (%s): %v, want %q", i, docs[i].ID, out[i], code)
		}
	}
	for _, id := range []string{"a", "b"} {
		got, err := s.Document(ctx, id)
		must(t, err)
		if got.OwnerID != alice.ID || got.Title != id || got.Rev != 0 {
			t.Fatalf("Document(%s) = %+v", id, got)
		}
	}
	if docs[0].CreatedAt.IsZero() || docs[0].Members == nil || docs[0].OwnerUsername != "alice" || docs[0].LinkRole != gdoc.RoleEditor {
		t.Fatalf("created document's fields not set: %+v", docs[0])
	}
	for _, id := range []string{"gone", "c"} {
		_, err := s.Document(ctx, id)
		requireCode(t, err, gdoc.ENOTFOUND)
	}
	// One document, and none.
	out = s.CreateDocumentsUnlessDeleted(ctx, []*gdoc.Document{doc("d", alice.ID)})
	if len(out) != 1 || out[0] != nil {
		t.Fatalf("one document: %v", out)
	}
	if out := s.CreateDocumentsUnlessDeleted(ctx, nil); len(out) != 0 {
		t.Fatalf("no documents: %v", out)
	}
}

// DocumentMeta is Document without the content, members included.
func testDocumentMeta(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
	mustDoc(t, s, "alone", alice.ID, false)
	mustDoc(t, s, "shared", alice.ID, false)
	_, err := s.SetMember(ctx, "shared", bob.ID, gdoc.RoleEditor)
	must(t, err)
	_, err = s.SetMember(ctx, "shared", carol.ID, gdoc.RoleViewer)
	must(t, err)
	vis, link := gdoc.VisibilityLink, gdoc.RoleViewer
	_, err = s.SetDocumentAccess(ctx, "shared", &vis, &link)
	must(t, err)
	for _, id := range []string{"alone", "shared"} {
		full, err := s.Document(ctx, id)
		must(t, err)
		meta, err := s.DocumentMeta(ctx, id)
		must(t, err)
		if meta.Content != "" || full.Content == "" {
			t.Fatalf("%s: DocumentMeta content %q, Document content %q", id, meta.Content, full.Content)
		}
		full.Content = ""
		if meta.ID != full.ID || meta.Title != full.Title || meta.Language != full.Language || meta.OwnerID != full.OwnerID ||
			meta.OwnerUsername != full.OwnerUsername || meta.Public != full.Public || meta.Rev != full.Rev ||
			meta.Visibility != full.Visibility || meta.LinkRole != full.LinkRole ||
			!meta.CreatedAt.Equal(full.CreatedAt) || !meta.UpdatedAt.Equal(full.UpdatedAt) || len(meta.Members) != len(full.Members) {
			t.Fatalf("%s: DocumentMeta = %+v, Document = %+v", id, meta, full)
		}
		for user, role := range full.Members {
			if meta.Members[user] != role {
				t.Fatalf("%s: DocumentMeta members %v, Document members %v", id, meta.Members, full.Members)
			}
		}
	}
	shared, err := s.DocumentMeta(ctx, "shared")
	must(t, err)
	if len(shared.Members) != 2 || shared.RoleOf(bob.ID) != gdoc.RoleEditor || shared.RoleOf(carol.ID) != gdoc.RoleViewer ||
		shared.RoleOf(alice.ID) != gdoc.RoleOwner || shared.Visibility != gdoc.VisibilityLink {
		t.Fatalf("DocumentMeta(shared) = %+v", shared)
	}
	if alone, err := s.DocumentMeta(ctx, "alone"); err != nil || alone.Members == nil || len(alone.Members) != 0 || alone.OwnerUsername != "alice" {
		t.Fatalf("DocumentMeta(alone) = %+v, %v", alone, err)
	}
	_, err = s.DocumentMeta(ctx, "nope")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testSharingDefaults(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	pub := mustDoc(t, s, "pub", alice.ID, true)
	priv := mustDoc(t, s, "priv", alice.ID, false)
	link := &gdoc.Document{ID: "link", Title: "l", OwnerID: alice.ID, Visibility: gdoc.VisibilityLink, LinkRole: gdoc.RoleViewer, Public: true}
	must(t, s.CreateDocument(ctx, link))
	if pub.Visibility != gdoc.VisibilityPublic || pub.LinkRole != gdoc.RoleEditor || !pub.Public || pub.OwnerUsername != "alice" {
		t.Fatalf("created public document = %+v, want public, link role editor, owner alice", pub)
	}
	if link.Public { // Visibility wins over Public, and Public follows it
		t.Fatalf("created link document has Public true")
	}
	for id, want := range map[string]struct {
		vis    gdoc.Visibility
		link   gdoc.Role
		public bool
	}{
		"pub": {gdoc.VisibilityPublic, gdoc.RoleEditor, true}, "priv": {gdoc.VisibilityPrivate, gdoc.RoleEditor, false},
		"link": {gdoc.VisibilityLink, gdoc.RoleViewer, false},
	} {
		got, err := s.Document(ctx, id)
		must(t, err)
		if got.Visibility != want.vis || got.LinkRole != want.link || got.Public != want.public || got.OwnerUsername != "alice" || len(got.Members) != 0 {
			t.Errorf("Document(%s) = visibility %q, link role %q, public %v, owner %q, members %v; want %+v, alice, none",
				id, got.Visibility, got.LinkRole, got.Public, got.OwnerUsername, got.Members, want)
		}
	}
	_ = priv
}

func testSharingBadValues(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "a", Title: "a", OwnerID: alice.ID, Visibility: "secret"}), gdoc.EINVALID)
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "a", Title: "a", OwnerID: alice.ID, LinkRole: gdoc.RoleOwner}), gdoc.EINVALID)
	if _, err := s.Document(ctx, "a"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("a refused create stored a document: %v", err)
	}
	mustDoc(t, s, "d", alice.ID, true)
	bad := gdoc.Visibility("everyone")
	_, err := s.SetDocumentAccess(ctx, "d", &bad, nil)
	requireCode(t, err, gdoc.EINVALID)
	owner := gdoc.RoleOwner
	_, err = s.SetDocumentAccess(ctx, "d", nil, &owner)
	requireCode(t, err, gdoc.EINVALID)
	vis := gdoc.VisibilityLink
	_, err = s.SetDocumentAccess(ctx, "nope", &vis, nil)
	requireCode(t, err, gdoc.ENOTFOUND)
	got, err := s.Document(ctx, "d")
	must(t, err)
	if got.Visibility != gdoc.VisibilityPublic || got.LinkRole != gdoc.RoleEditor {
		t.Fatalf("refused changes changed the document: %+v", got)
	}
}

func testSetDocumentAccess(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	d := mustDoc(t, s, "d", alice.ID, true)
	vis, viewer := gdoc.VisibilityLink, gdoc.RoleViewer
	got, err := s.SetDocumentAccess(ctx, "d", &vis, &viewer)
	must(t, err)
	if got.Visibility != vis || got.LinkRole != viewer || got.Public || got.Content != d.Content || got.Title != d.Title {
		t.Fatalf("SetDocumentAccess(link, viewer) = %+v", got)
	}
	pub := gdoc.VisibilityPublic
	got, err = s.SetDocumentAccess(ctx, "d", &pub, nil) // link role kept
	must(t, err)
	if got.Visibility != pub || got.LinkRole != viewer || !got.Public {
		t.Fatalf("SetDocumentAccess(public, nil) = %+v", got)
	}
	stored, err := s.Document(ctx, "d")
	must(t, err)
	if stored.Visibility != pub || stored.LinkRole != viewer || !stored.Public {
		t.Fatalf("stored after SetDocumentAccess = %+v", stored)
	}
}

func testMetaPublicSetsVisibility(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	mustDoc(t, s, "d", alice.ID, true)
	vis := gdoc.VisibilityLink
	_, err := s.SetDocumentAccess(ctx, "d", &vis, nil)
	must(t, err)
	f, tr := false, true
	got, err := s.UpdateDocumentMeta(ctx, "d", nil, nil, &f)
	must(t, err)
	if got.Visibility != gdoc.VisibilityPrivate || got.Public {
		t.Fatalf("is_public false on a link document: %+v, want private", got)
	}
	got, err = s.UpdateDocumentMeta(ctx, "d", nil, nil, &tr)
	must(t, err)
	if got.Visibility != gdoc.VisibilityPublic || !got.Public {
		t.Fatalf("is_public true: %+v, want public", got)
	}
	title := "renamed"
	got, err = s.UpdateDocumentMeta(ctx, "d", &title, nil, nil)
	must(t, err)
	if got.Visibility != gdoc.VisibilityPublic || got.Title != title {
		t.Fatalf("a rename changed visibility: %+v", got)
	}
}

func testMembers(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "Bob"), mustUser(t, s, "carol")
	mustDoc(t, s, "d", alice.ID, false)
	m, err := s.SetMember(ctx, "d", carol.ID, gdoc.RoleViewer)
	must(t, err)
	if *m != (gdoc.Member{UserID: carol.ID, Username: "carol", Role: gdoc.RoleViewer}) {
		t.Fatalf("SetMember = %+v", m)
	}
	_, err = s.SetMember(ctx, "d", bob.ID, gdoc.RoleViewer)
	must(t, err)
	_, err = s.SetMember(ctx, "d", bob.ID, gdoc.RoleEditor) // a change, not a second row
	must(t, err)
	list, err := s.Members(ctx, "d")
	must(t, err)
	want := []gdoc.Member{
		{UserID: alice.ID, Username: "alice", Role: gdoc.RoleOwner},
		{UserID: bob.ID, Username: "Bob", Role: gdoc.RoleEditor},
		{UserID: carol.ID, Username: "carol", Role: gdoc.RoleViewer},
	}
	if !slices.Equal(list, want) {
		t.Fatalf("Members = %+v, want %+v", list, want)
	}
	d, err := s.Document(ctx, "d")
	must(t, err)
	if len(d.Members) != 2 || d.Members[bob.ID] != gdoc.RoleEditor || d.Members[carol.ID] != gdoc.RoleViewer {
		t.Fatalf("Document.Members = %v", d.Members)
	}
	if d.RoleOf(bob.ID) != gdoc.RoleEditor || d.RoleOf(carol.ID) != gdoc.RoleViewer || d.RoleOf(alice.ID) != gdoc.RoleOwner {
		t.Fatalf("roles from the stored document: bob %q carol %q alice %q", d.RoleOf(bob.ID), d.RoleOf(carol.ID), d.RoleOf(alice.ID))
	}
	must(t, s.RemoveMember(ctx, "d", carol.ID))
	requireCode(t, s.RemoveMember(ctx, "d", carol.ID), gdoc.ENOTFOUND)
	list, err = s.Members(ctx, "d")
	must(t, err)
	if len(list) != 2 || list[1].UserID != bob.ID {
		t.Fatalf("Members after removal = %+v", list)
	}
	// Deleting the document removes its memberships.
	must(t, s.DeleteDocument(ctx, "d"))
	_, err = s.Members(ctx, "d")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testMembersErrors(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustDoc(t, s, "d", alice.ID, false)
	_, err := s.SetMember(ctx, "d", alice.ID, gdoc.RoleViewer)
	requireCode(t, err, gdoc.EINVALID) // the owner's role is not set here
	_, err = s.SetMember(ctx, "d", bob.ID, gdoc.RoleOwner)
	requireCode(t, err, gdoc.EINVALID)
	_, err = s.SetMember(ctx, "d", bob.ID, "admin")
	requireCode(t, err, gdoc.EINVALID)
	_, err = s.SetMember(ctx, "d", "9999", gdoc.RoleViewer)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.SetMember(ctx, "nope", bob.ID, gdoc.RoleViewer)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.Members(ctx, "nope")
	requireCode(t, err, gdoc.ENOTFOUND)
	list, err := s.Members(ctx, "d")
	must(t, err)
	if len(list) != 1 || list[0].Role != gdoc.RoleOwner {
		t.Fatalf("refused member changes changed the members: %+v", list)
	}
}

func testDocumentsListsShared(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustDoc(t, s, "pub", alice.ID, true)
	mustDoc(t, s, "priv", alice.ID, false)
	mustDoc(t, s, "shared", alice.ID, false)
	mustDoc(t, s, "bobs", bob.ID, false)
	link := &gdoc.Document{ID: "link", Title: "l", OwnerID: alice.ID, Visibility: gdoc.VisibilityLink}
	must(t, s.CreateDocument(ctx, link))
	_, err := s.SetMember(ctx, "shared", bob.ID, gdoc.RoleViewer)
	must(t, err)
	ids := func(viewer string) map[string]gdoc.Role {
		docs, err := s.Documents(ctx, viewer)
		must(t, err)
		out := map[string]gdoc.Role{}
		for _, d := range docs {
			if d.Content != "" {
				t.Fatalf("Documents carries content")
			}
			if d.OwnerUsername != "alice" && d.OwnerUsername != "bob" {
				t.Fatalf("Documents: %s has owner username %q", d.ID, d.OwnerUsername)
			}
			out[d.ID] = d.RoleOf(viewer)
		}
		return out
	}
	got := ids(bob.ID)
	want := map[string]gdoc.Role{"pub": gdoc.RoleEditor, "shared": gdoc.RoleViewer, "bobs": gdoc.RoleOwner}
	if len(got) != len(want) {
		t.Fatalf("Documents(bob) = %v, want %v (a link document is not listed)", got, want)
	}
	for id, r := range want {
		if got[id] != r {
			t.Fatalf("Documents(bob) = %v, want %v", got, want)
		}
	}
	if got := ids(""); len(got) != 1 || got["pub"] != gdoc.RoleViewer {
		t.Fatalf("Documents(anonymous) = %v, want pub only", got)
	}
	if got := ids(alice.ID); len(got) != 4 || got["link"] != gdoc.RoleOwner {
		t.Fatalf("Documents(alice) = %v, want her four", got)
	}
}

func testTransferOwnership(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
	mustDoc(t, s, "d", alice.ID, false)
	_, err := s.TransferOwnership(ctx, "d", carol.ID)
	requireCode(t, err, gdoc.EINVALID) // not a member
	_, err = s.TransferOwnership(ctx, "nope", carol.ID)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.SetMember(ctx, "d", bob.ID, gdoc.RoleViewer)
	must(t, err)
	d, err := s.TransferOwnership(ctx, "d", bob.ID)
	must(t, err)
	if d.OwnerID != bob.ID || d.OwnerUsername != "bob" || d.Members[alice.ID] != gdoc.RoleEditor || d.Members[bob.ID] != "" {
		t.Fatalf("after transfer: owner %s (%s), members %v", d.OwnerID, d.OwnerUsername, d.Members)
	}
	list, err := s.Members(ctx, "d")
	must(t, err)
	want := []gdoc.Member{{UserID: bob.ID, Username: "bob", Role: gdoc.RoleOwner}, {UserID: alice.ID, Username: "alice", Role: gdoc.RoleEditor}}
	if !slices.Equal(list, want) {
		t.Fatalf("Members after transfer = %+v, want %+v", list, want)
	}
	docs, err := s.Documents(ctx, alice.ID)
	must(t, err)
	if len(docs) != 1 || docs[0].RoleOf(alice.ID) != gdoc.RoleEditor {
		t.Fatalf("alice's list after transfer: %+v", docs)
	}
}

func testTombstone(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	mustDoc(t, s, "gone", alice.ID, true)
	if del, err := s.DocumentDeleted(ctx, "gone"); err != nil || del {
		t.Fatalf("DocumentDeleted of a live document = %v, %v", del, err)
	}
	must(t, s.DeleteDocument(ctx, "gone"))
	if del, err := s.DocumentDeleted(ctx, "gone"); err != nil || !del {
		t.Fatalf("DocumentDeleted after delete = %v, %v", del, err)
	}
	if del, err := s.DocumentDeleted(ctx, "never"); err != nil || del {
		t.Fatalf("DocumentDeleted of an unknown id = %v, %v", del, err)
	}
	requireCode(t, s.CreateDocumentUnlessDeleted(ctx, &gdoc.Document{ID: "gone", Title: "again", OwnerID: alice.ID, Public: true}), gdoc.ENOTFOUND)
	_, err := s.Document(ctx, "gone")
	requireCode(t, err, gdoc.ENOTFOUND)
	// A fresh id is created; an existing one conflicts.
	must(t, s.CreateDocumentUnlessDeleted(ctx, &gdoc.Document{ID: "fresh", Title: "f", OwnerID: alice.ID, Public: true}))
	requireCode(t, s.CreateDocumentUnlessDeleted(ctx, &gdoc.Document{ID: "fresh", Title: "f", OwnerID: alice.ID, Public: true}), gdoc.ECONFLICT)
	// An explicit create may use the id again; then it is live, not deleted.
	must(t, s.CreateDocument(ctx, &gdoc.Document{ID: "gone", Title: "again", OwnerID: alice.ID, Public: true}))
	if del, err := s.DocumentDeleted(ctx, "gone"); err != nil || del {
		t.Fatalf("DocumentDeleted after re-creating = %v, %v", del, err)
	}
}

func testDocumentsCreatedSince(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	start := time.Now().Add(-time.Second)
	old := &gdoc.Document{ID: "old", Title: "o", OwnerID: alice.ID, CreatedAt: start.Add(-2 * time.Hour)}
	must(t, s.CreateDocument(ctx, old))
	mustDoc(t, s, "a1", alice.ID, true)
	mustDoc(t, s, "a2", alice.ID, true)
	mustDoc(t, s, "b1", bob.ID, true)
	must(t, s.DeleteDocument(ctx, "a2")) // still counted
	_, err := s.SetMember(ctx, "b1", alice.ID, gdoc.RoleEditor)
	must(t, err)
	_, err = s.TransferOwnership(ctx, "b1", alice.ID) // owning is not creating
	must(t, err)
	for user, want := range map[string]int{alice.ID: 2, bob.ID: 1, "": 0} {
		n, err := s.DocumentsCreatedSince(ctx, user, start)
		must(t, err)
		if n != want {
			t.Errorf("DocumentsCreatedSince(%q) = %d, want %d", user, n, want)
		}
	}
}

func testDocumentsByID(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustDoc(t, s, "a", alice.ID, false)
	mustDoc(t, s, "b", alice.ID, true)
	_, err := s.SetMember(ctx, "a", bob.ID, gdoc.RoleViewer)
	must(t, err)
	docs, err := s.DocumentsByID(ctx, []string{"a", "b", "missing"})
	must(t, err)
	got := map[string]*gdoc.Document{}
	for _, d := range docs {
		got[d.ID] = d
	}
	if len(docs) != 2 || got["a"] == nil || got["b"] == nil {
		t.Fatalf("DocumentsByID = %+v, want a and b", docs)
	}
	if got["a"].RoleOf(bob.ID) != gdoc.RoleViewer || got["b"].RoleOf(bob.ID) != gdoc.RoleEditor || got["a"].Content != "" {
		t.Fatalf("roles from DocumentsByID: a %q, b %q", got["a"].RoleOf(bob.ID), got["b"].RoleOf(bob.ID))
	}
	many := make([]string, 1200) // more than one IN list
	for i := range many {
		many[i] = "a"
	}
	docs, err = s.DocumentsByID(ctx, many)
	must(t, err)
	if len(docs) == 0 {
		t.Fatal("DocumentsByID of a long list found nothing")
	}
	if docs, err = s.DocumentsByID(ctx, nil); err != nil || len(docs) != 0 {
		t.Fatalf("DocumentsByID(nil) = %v, %v", docs, err)
	}
}
