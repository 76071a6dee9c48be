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

// nextDocumentID returns a decimal id that no document has, near the end of
// the run 1, 2, 3, ... of ids in use, so the first document is "1" as in the
// seed's examples (`curl .../api/documents/1`). It probes O(log n) ids:
// doubling until one is free, then bisecting between the last taken and the
// first free. Ids taken out of order (a WebSocket join of "7") only make it
// land on another free number; a concurrent create that wins the same id
// makes CreateDocument fail with ECONFLICT and the caller tries the next one.
func (s *Server) nextDocumentID(ctx context.Context) (int, error) {
	exists := func(n int) (bool, error) {
		_, err := s.store.Document(ctx, strconv.Itoa(n))
		if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
			return false, nil
		}
		return err == nil, err
	}
	taken, free := 0, 1
	for {
		ok, err := exists(free)
		if err != nil {
			return 0, err
		} else if !ok {
			break
		}
		taken, free = free, free*2
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

// canSee reports whether user (nil when anonymous) may read d, by the one
// access rule (gdoc.Document.RoleOf).
func canSee(d *gdoc.Document, user *gdoc.User) error {
	userID := ""
	if user != nil {
		userID = user.ID
	}
	if d.RoleOf(userID).CanRead() {
		return nil
	}
	return gdoc.Errorf(gdoc.EFORBIDDEN, "This document is private.")
}

// visibleDocument loads document id's metadata and checks the caller may see it.
func (s *Server) visibleDocument(ctx context.Context, id string) (*gdoc.Document, error) {
	if !gdoc.ValidDocumentID(id) {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	d, err := s.store.Document(ctx, id)
	if err != nil {
		return nil, err
	}
	return d, canSee(d, userFrom(ctx))
}

type documentOutput struct{ Body *gdoc.Document }

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
		IsPublic *bool    `json:"is_public,omitempty" doc:"Default true. A private document is visible to its owner only."`
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
	public := in.Body.IsPublic == nil || *in.Body.IsPublic
	id, err := s.nextDocumentID(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		d := &gdoc.Document{ID: strconv.Itoa(id + attempt), Title: title, Content: in.Body.Content, Language: lang, OwnerID: user.ID, Public: public}
		err := s.store.CreateDocument(ctx, d)
		if err == nil {
			return &documentOutput{Body: d}, nil
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
}

type listDocumentsOutput struct{ Body []DocumentSummary }

func (s *Server) listDocuments(ctx context.Context, _ *struct{}) (*listDocumentsOutput, error) {
	viewer := ""
	if u := userFrom(ctx); u != nil {
		viewer = u.ID
	}
	docs, err := s.store.Documents(ctx, viewer)
	if err != nil {
		return nil, err
	}
	out := make([]DocumentSummary, 0, len(docs))
	for _, d := range docs {
		out = append(out, DocumentSummary{ID: d.ID, Title: d.Title, Language: d.Language, OwnerID: d.OwnerID,
			IsPublic: d.Public, Rev: d.Rev, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt})
	}
	return &listDocumentsOutput{Body: out}, nil
}

func (s *Server) getDocument(ctx context.Context, in *DocumentPath) (*documentOutput, error) {
	if !gdoc.ValidDocumentID(in.ID) {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	d, err := s.collab.Current(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if err := canSee(d, userFrom(ctx)); err != nil {
		return nil, err
	}
	return &documentOutput{Body: d}, nil
}

type updateDocumentInput struct {
	DocumentPath
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Title    *string  `json:"title,omitempty" maxLength:"200"`
		Content  *string  `json:"content,omitempty" doc:"The whole new text; committed as the minimal edit from the current text."`
		Language *string  `json:"language,omitempty"`
		IsPublic *bool    `json:"is_public,omitempty" doc:"Owner only."`
	}
}

func (s *Server) updateDocument(ctx context.Context, in *updateDocumentInput) (*documentOutput, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.visibleDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	body := in.Body
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
	if body.IsPublic != nil && *body.IsPublic != d.Public && user.ID != d.OwnerID {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's owner may change is_public.")
	}
	if body.Title != nil || body.Language != nil || body.IsPublic != nil {
		meta, err := s.store.UpdateDocumentMeta(ctx, in.ID, body.Title, body.Language, body.IsPublic)
		if err != nil {
			return nil, err
		}
		if meta.Title != d.Title || meta.Language != d.Language || meta.Public != d.Public {
			s.collab.MetadataChanged(ctx, meta, user)
		}
	}
	if body.Content != nil {
		updated, err := s.collab.ReplaceContent(ctx, in.ID, user, *body.Content)
		if err != nil {
			return nil, err
		}
		return &documentOutput{Body: updated}, nil
	}
	current, err := s.collab.Current(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &documentOutput{Body: current}, nil
}

func (s *Server) deleteDocument(ctx context.Context, in *DocumentPath) (*struct{}, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.visibleDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if d.OwnerID != user.ID {
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
