package httpapi

import (
	"context"
	"encoding/json"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
)

const (
	maxTitleRunes = 200
	// maxOpsPage bounds one /ops answer; a client pages on from the last rev.
	maxOpsPage = 1000
)

var languagePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_+#.-]{0,31}$`)

// languageByExtension guesses a Monaco language id from a title's extension.
var languageByExtension = map[string]string{
	".py": "python", ".go": "go", ".ts": "typescript", ".tsx": "typescript", ".js": "javascript",
	".jsx": "javascript", ".mjs": "javascript", ".json": "json", ".md": "markdown", ".html": "html",
	".htm": "html", ".css": "css", ".scss": "scss", ".java": "java", ".c": "c", ".h": "c",
	".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp", ".cs": "csharp", ".rs": "rust", ".rb": "ruby",
	".php": "php", ".sh": "shell", ".bash": "shell", ".sql": "sql", ".yaml": "yaml", ".yml": "yaml",
	".xml": "xml", ".kt": "kotlin", ".swift": "swift", ".lua": "lua", ".r": "r", ".txt": "plaintext",
	".toml": "ini", ".ini": "ini", ".dockerfile": "dockerfile",
}

// GuessLanguage returns the language for a document titled title.
func GuessLanguage(title string) string {
	if lang, ok := languageByExtension[strings.ToLower(path.Ext(strings.TrimSpace(title)))]; ok {
		return lang
	}
	if strings.EqualFold(strings.TrimSpace(title), "Dockerfile") {
		return "dockerfile"
	}
	return "plaintext"
}

// nextDocumentID returns a decimal id that no document has or had, near the end of
// the run 1, 2, 3, ... of ids in use, so the first document is "1" as in the
// seed's examples (`curl .../api/documents/1`). It probes O(log n) ids:
// doubling until one is free, then bisecting between the last taken and the
// first free. Ids taken out of order (a WebSocket join of "7") only make it
// land on another free number; a concurrent create that wins the same id
// makes CreateDocument fail with ECONFLICT and the caller tries the next one.
// The search starts at the last id this server created when that one is
// still taken (ids never become free again), so creating many documents
// costs a few probes each, not 2 log n (the whole search was 60 % of the
// server's CPU while gdoc-load created 2,000 documents).
func (s *Server) nextDocumentID(ctx context.Context) (int, error) {
	// A deleted id counts as taken: a stale tab of the deleted document
	// must not reconnect to someone else's new one.
	exists := func(n int) (bool, error) {
		_, err := s.store.DocumentMeta(ctx, strconv.Itoa(n))
		if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
			return s.store.DocumentDeleted(ctx, strconv.Itoa(n))
		}
		return err == nil, err
	}
	base := 0 // probe base+1, base+2, base+4, ...
	if last := int(s.lastDocID.Load()); last > 0 {
		if ok, err := exists(last); err != nil {
			return 0, err
		} else if ok {
			base = last
		}
	}
	taken, free := base, base+1
	for {
		ok, err := exists(free)
		if err != nil {
			return 0, err
		} else if !ok {
			break
		}
		taken, free = free, base+2*(free-base)
	}
	for free-taken > 1 {
		mid := taken + (free-taken)/2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		} else if ok {
			taken = mid
		} else {
			free = mid
		}
	}
	return free, nil
}

// noteDocumentID records that id was created (Server.lastDocID).
func (s *Server) noteDocumentID(id int64) {
	for {
		last := s.lastDocID.Load()
		if id <= last || s.lastDocID.CompareAndSwap(last, id) {
			return
		}
	}
}

func validTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	switch {
	case title == "":
		return "", gdoc.Errorf(gdoc.EINVALID, "title: must not be empty.")
	case utf8.RuneCountInString(title) > maxTitleRunes:
		return "", gdoc.Errorf(gdoc.EINVALID, "title: must be at most %d characters.", maxTitleRunes)
	case strings.ContainsAny(title, "\n\r\x00"):
		return "", gdoc.Errorf(gdoc.EINVALID, "title: must be one line.")
	}
	return title, nil
}

func validLanguage(lang string) (string, error) {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if !languagePattern.MatchString(lang) {
		return "", gdoc.Errorf(gdoc.EINVALID, "language: %q is not a language id like \"python\" or \"plaintext\".", lang)
	}
	return lang, nil
}

// validContent checks a document text from a REST body: UTF-8, no NUL (it
// would break every snapshot of the document), at most maxBytes bytes.
func validContent(content string, maxBytes int64) error {
	if int64(len(content)) > maxBytes {
		return gdoc.Errorf(gdoc.ETOOLARGE, "content: the document would be %s; the limit is %s.", formatBytes(int64(len(content))), formatBytes(maxBytes))
	}
	if !utf8.ValidString(content) {
		return gdoc.Errorf(gdoc.EINVALID, "content: must be valid UTF-8 text.")
	}
	if i := strings.IndexByte(content, 0); i >= 0 {
		return gdoc.Errorf(gdoc.EINVALID, "content: contains a NUL character (at byte %d); documents are text and cannot hold NUL.", i)
	}
	return nil
}

// formatBytes writes n as "4 MiB", "1.5 KiB" or "12 bytes".
func formatBytes(n int64) string {
	unit := func(v float64, name string) string {
		return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".") + " " + name
	}
	switch {
	case n >= 1<<20:
		return unit(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return unit(float64(n)/(1<<10), "KiB")
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// errNoDocument is the answer for a document that does not exist and for
// one the caller may not read alike, so that ids cannot be probed.
func errNoDocument() error { return gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.") }

// callerID is the signed-in caller's user id, "" when anonymous.
func callerID(ctx context.Context) string {
	if u := userFrom(ctx); u != nil {
		return u.ID
	}
	return ""
}

// access loads document id's metadata (with its members) and the caller's
// role on it (gdoc.Document.RoleOf, the one access rule); ENOTFOUND when
// the caller may not read it.
func (s *Server) access(ctx context.Context, id string) (*gdoc.Document, gdoc.Role, error) {
	if !gdoc.ValidDocumentID(id) {
		return nil, gdoc.RoleNone, errNoDocument()
	}
	d, err := s.store.Document(ctx, id)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil, gdoc.RoleNone, errNoDocument()
	} else if err != nil {
		return nil, gdoc.RoleNone, err
	}
	role := d.RoleOf(callerID(ctx))
	if !role.CanRead() {
		return nil, gdoc.RoleNone, errNoDocument()
	}
	return d, role, nil
}

// visibleDocument loads document id's metadata and checks the caller may
// read it (ENOTFOUND otherwise).
func (s *Server) visibleDocument(ctx context.Context, id string) (*gdoc.Document, error) {
	d, _, err := s.access(ctx, id)
	return d, err
}

// DocumentBody is a document as the API returns it: the stored document
// and the caller's role.
type DocumentBody struct {
	gdoc.Document
	Role *gdoc.Role `json:"role" nullable:"true" enum:"owner,editor,viewer" doc:"The caller's effective role; null when not signed in."`
}

// documentBody is d for the caller of ctx.
func documentBody(ctx context.Context, d *gdoc.Document) DocumentBody {
	b := DocumentBody{Document: *d}
	if id := callerID(ctx); id != "" {
		if r := d.RoleOf(id); r != gdoc.RoleNone {
			b.Role = &r
		}
	}
	return b
}

type documentOutput struct{ Body DocumentBody }

// accessFields checks the access fields of a create or update: is_public
// and visibility must agree when both are given. It returns the visibility
// they ask for (nil for no change).
func accessFields(isPublic *bool, visibility *string) (*gdoc.Visibility, error) {
	var v *gdoc.Visibility
	if visibility != nil {
		vis := gdoc.Visibility(*visibility)
		if !gdoc.ValidVisibility(vis) {
			return nil, gdoc.Errorf(gdoc.EINVALID, "visibility: must be public, link or private.")
		}
		v = &vis
	}
	if isPublic != nil {
		if v != nil && (*v == gdoc.VisibilityPublic) != *isPublic {
			return nil, gdoc.Errorf(gdoc.EINVALID, "is_public: contradicts visibility %q.", *v)
		}
		if v == nil {
			vis := gdoc.VisibilityPrivate
			if *isPublic {
				vis = gdoc.VisibilityPublic
			}
			v = &vis
		}
	}
	return v, nil
}

func linkRoleField(linkRole *string) (*gdoc.Role, error) {
	if linkRole == nil {
		return nil, nil
	}
	r := gdoc.Role(*linkRole)
	if !gdoc.ValidMemberRole(r) {
		return nil, gdoc.Errorf(gdoc.EINVALID, "link_role: must be editor or viewer.")
	}
	return &r, nil
}

// DocumentPath is the {id} of a document route.
type DocumentPath struct {
	ID string `path:"id" maxLength:"64" doc:"Document id" example:"my-project"`
}

type createDocumentInput struct {
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Title    string   `json:"title" maxLength:"200" example:"My Project"`
		Content  string   `json:"content,omitempty" example:"// Start coding here"`
		Language string   `json:"language,omitempty" doc:"Monaco language id; guessed from the title's extension when empty" example:"javascript"`
		IsPublic *bool    `json:"is_public,omitempty" doc:"Default true. False makes the document private (visible to its owner and members only)."`
		// Visibility and LinkRole are strings (not the enums) so that a bad
		// value gets the API's own sentence.
		Visibility *string `json:"visibility,omitempty" enum:"public,link,private" doc:"Default public (or what is_public says)."`
		LinkRole   *string `json:"link_role,omitempty" enum:"editor,viewer" doc:"What signed-in non-members get on a public or link document; default editor."`
	}
}

func (s *Server) createDocument(ctx context.Context, in *createDocumentInput) (*documentOutput, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	title, err := validTitle(in.Body.Title)
	if err != nil {
		return nil, err
	}
	lang := GuessLanguage(title)
	if in.Body.Language != "" {
		if lang, err = validLanguage(in.Body.Language); err != nil {
			return nil, err
		}
	}
	if err := validContent(in.Body.Content, s.maxDoc); err != nil {
		return nil, err
	}
	visibility, err := accessFields(in.Body.IsPublic, in.Body.Visibility)
	if err != nil {
		return nil, err
	}
	vis := gdoc.VisibilityPublic
	if visibility != nil {
		vis = *visibility
	}
	linkRole, err := linkRoleField(in.Body.LinkRole)
	if err != nil {
		return nil, err
	}
	link := gdoc.RoleEditor
	if linkRole != nil {
		link = *linkRole
	}
	id, err := s.nextDocumentID(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		d := &gdoc.Document{ID: strconv.Itoa(id + attempt), Title: title, Content: in.Body.Content, Language: lang, OwnerID: user.ID,
			Public: vis == gdoc.VisibilityPublic, Visibility: vis, LinkRole: link}
		err := s.store.CreateDocument(ctx, d)
		if err == nil {
			s.noteDocumentID(int64(id + attempt))
			return &documentOutput{Body: documentBody(ctx, d)}, nil
		}
		// Another request took the id first: try the next (bounded).
		if gdoc.ErrorCode(err) != gdoc.ECONFLICT || attempt == 15 {
			return nil, err
		}
	}
}

// DocumentSummary is a document in a list: everything but the content.
type DocumentSummary struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Language  string    `json:"language"`
	OwnerID   string    `json:"owner_id"`
	IsPublic  bool      `json:"is_public"`
	Rev       int64     `json:"rev" doc:"Revision of the latest snapshot; the live revision may be higher."`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	Visibility    gdoc.Visibility `json:"visibility" enum:"public,link,private"`
	LinkRole      gdoc.Role       `json:"link_role" enum:"editor,viewer"`
	OwnerUsername string          `json:"owner_username"`
	Role          *gdoc.Role      `json:"role" nullable:"true" enum:"owner,editor,viewer" doc:"The caller's effective role; null when not signed in."`
	Shared        bool            `json:"shared" doc:"The caller is a member (not the owner)."`
}

type listDocumentsOutput struct{ Body []DocumentSummary }

func (s *Server) listDocuments(ctx context.Context, _ *struct{}) (*listDocumentsOutput, error) {
	viewer := callerID(ctx)
	docs, err := s.store.Documents(ctx, viewer)
	if err != nil {
		return nil, err
	}
	out := make([]DocumentSummary, 0, len(docs))
	for _, d := range docs {
		b := documentBody(ctx, d)
		if viewer != "" && b.Role == nil {
			continue // the store lists only what the viewer may read; RoleOf has the last word
		}
		out = append(out, DocumentSummary{ID: d.ID, Title: d.Title, Language: d.Language, OwnerID: d.OwnerID,
			IsPublic: d.Public, Rev: d.Rev, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
			Visibility: d.EffectiveVisibility(), LinkRole: d.EffectiveLinkRole(), OwnerUsername: d.OwnerUsername,
			Role: b.Role, Shared: viewer != "" && viewer != d.OwnerID && d.Members[viewer] != ""})
	}
	return &listDocumentsOutput{Body: out}, nil
}

func (s *Server) getDocument(ctx context.Context, in *DocumentPath) (*documentOutput, error) {
	d, _, err := s.access(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return s.currentDocument(ctx, d)
}

// currentDocument is stored (metadata and access as stored) with the live
// content and revision.
func (s *Server) currentDocument(ctx context.Context, stored *gdoc.Document) (*documentOutput, error) {
	cur, err := s.collab.Current(ctx, stored.ID)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil, errNoDocument()
	} else if err != nil {
		return nil, err
	}
	d := *stored
	d.Content, d.Rev = cur.Content, cur.Rev
	return &documentOutput{Body: documentBody(ctx, &d)}, nil
}

type updateDocumentInput struct {
	DocumentPath
	Body struct {
		_          struct{} `additionalProperties:"true"`
		Title      *string  `json:"title,omitempty" maxLength:"200"`
		Content    *string  `json:"content,omitempty" doc:"The whole new text; committed as the minimal edit from the current text."`
		Language   *string  `json:"language,omitempty"`
		IsPublic   *bool    `json:"is_public,omitempty" doc:"Owner only. True makes the document public, false private."`
		Visibility *string  `json:"visibility,omitempty" enum:"public,link,private" doc:"Owner only."`
		LinkRole   *string  `json:"link_role,omitempty" enum:"editor,viewer" doc:"Owner only."`
	}
}

func (s *Server) updateDocument(ctx context.Context, in *updateDocumentInput) (*documentOutput, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	d, role, err := s.access(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	body := in.Body
	// Who may send what comes first: a refused request changes nothing,
	// whatever its values.
	if (body.IsPublic != nil || body.Visibility != nil || body.LinkRole != nil) && !role.IsOwner() {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's owner may change is_public, visibility or link_role.")
	}
	if (body.Title != nil || body.Content != nil || body.Language != nil) && !role.CanEdit() {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "You can view this document but not edit it.")
	}
	visibility, err := accessFields(body.IsPublic, body.Visibility)
	if err != nil {
		return nil, err
	}
	linkRole, err := linkRoleField(body.LinkRole)
	if err != nil {
		return nil, err
	}
	if body.Title != nil {
		title, err := validTitle(*body.Title)
		if err != nil {
			return nil, err
		}
		body.Title = &title
	}
	if body.Language != nil {
		lang, err := validLanguage(*body.Language)
		if err != nil {
			return nil, err
		}
		body.Language = &lang
	}
	if body.Content != nil {
		if err := validContent(*body.Content, s.maxDoc); err != nil {
			return nil, err
		}
	}
	meta := d
	if body.Title != nil || body.Language != nil {
		if meta, err = s.store.UpdateDocumentMeta(ctx, in.ID, body.Title, body.Language, nil); err != nil {
			return nil, err
		}
	}
	if visibility != nil || linkRole != nil {
		if meta, err = s.store.SetDocumentAccess(ctx, in.ID, visibility, linkRole); err != nil {
			return nil, err
		}
	}
	if meta.Title != d.Title || meta.Language != d.Language || meta.Public != d.Public {
		s.collab.MetadataChanged(ctx, meta, user)
	}
	if meta.EffectiveVisibility() != d.EffectiveVisibility() || meta.EffectiveLinkRole() != d.EffectiveLinkRole() {
		s.accessChanged(ctx, meta.ID)
	}
	if body.Content != nil {
		updated, err := s.collab.ReplaceContent(ctx, in.ID, user, *body.Content)
		if err != nil {
			return nil, err
		}
		out := *meta
		out.Content, out.Rev = updated.Content, updated.Rev
		return &documentOutput{Body: documentBody(ctx, &out)}, nil
	}
	return s.currentDocument(ctx, meta)
}

func (s *Server) deleteDocument(ctx context.Context, in *DocumentPath) (*struct{}, error) {
	if _, err := requireUser(ctx); err != nil {
		return nil, err
	}
	_, role, err := s.access(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if !role.IsOwner() {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's owner may delete it.")
	}
	if err := s.store.DeleteDocument(ctx, in.ID); err != nil {
		return nil, err
	}
	s.collab.Forget(in.ID)
	return nil, nil
}

// DocumentUsersBody lists who is connected to a document now.
type DocumentUsersBody struct {
	DocumentID  string            `json:"document_id"`
	ActiveUsers []string          `json:"active_users" doc:"Ids of the connected users (the seed's field)."`
	Users       []gdoc.ActiveUser `json:"users"`
	Count       int               `json:"count"`
}

type documentUsersOutput struct{ Body DocumentUsersBody }

func (s *Server) documentUsers(ctx context.Context, in *DocumentPath) (*documentUsersOutput, error) {
	if _, err := s.visibleDocument(ctx, in.ID); err != nil {
		return nil, err
	}
	users, err := s.collab.ActiveUsers(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if users == nil {
		users = []gdoc.ActiveUser{}
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	return &documentUsersOutput{Body: DocumentUsersBody{DocumentID: in.ID, ActiveUsers: ids, Users: users, Count: len(users)}}, nil
}

// ChatMessageBody is a chat message as the WebSocket sends it.
type ChatMessageBody struct {
	Type      string  `json:"type" enum:"chat"`
	ID        int64   `json:"id"`
	UserID    string  `json:"user_id"`
	Username  string  `json:"username"`
	Message   string  `json:"message"`
	Timestamp float64 `json:"timestamp" doc:"Unix time in seconds."`
}

type chatInput struct {
	DocumentPath
	Before int64 `query:"before" minimum:"0" doc:"Only messages with a smaller id (0: the newest)."`
	Limit  int   `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type chatOutput struct{ Body []ChatMessageBody }

func (s *Server) documentChat(ctx context.Context, in *chatInput) (*chatOutput, error) {
	if _, err := s.visibleDocument(ctx, in.ID); err != nil {
		return nil, err
	}
	msgs, err := s.store.ChatMessages(ctx, in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]ChatMessageBody, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, ChatMessageBody{Type: "chat", ID: m.ID, UserID: m.UserID, Username: m.Username,
			Message: m.Message, Timestamp: float64(m.CreatedAt.UnixMicro()) / 1e6})
	}
	return &chatOutput{Body: out}, nil
}

// OpBody is one committed operation.
type OpBody struct {
	Rev       int64           `json:"rev"`
	Op        json.RawMessage `json:"op" doc:"The text-unicode op (docs/protocol.md)."`
	ID        string          `json:"id" doc:"The client's op id."`
	UserID    string          `json:"user_id"`
	CreatedAt time.Time       `json:"created_at"`
}

type opsInput struct {
	DocumentPath
	From int64 `query:"from" minimum:"0" doc:"Exclusive lower bound."`
	To   int64 `query:"to" minimum:"0" doc:"Inclusive upper bound; 0 means the newest. At most 1000 ops are returned per request."`
}

type opsOutput struct{ Body []OpBody }

func (s *Server) documentOps(ctx context.Context, in *opsInput) (*opsOutput, error) {
	if in.To > 0 && in.To < in.From {
		return nil, gdoc.Errorf(gdoc.EINVALID, "to: must not be smaller than from.")
	}
	if _, err := s.visibleDocument(ctx, in.ID); err != nil {
		return nil, err
	}
	to := in.To
	if to <= 0 || to-in.From > maxOpsPage {
		to = in.From + maxOpsPage
	}
	ops, err := s.store.Ops(ctx, in.ID, in.From, to)
	if err != nil {
		return nil, err
	}
	out := make([]OpBody, 0, len(ops))
	for _, op := range ops {
		out = append(out, OpBody{Rev: op.Rev, Op: op.Op, ID: op.OpID, UserID: op.UserID, CreatedAt: op.CreatedAt})
	}
	return &opsOutput{Body: out}, nil
}
