package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// readableDocument loads document id and checks the caller may read it
// (gdoc.Document.RoleOf, through s.access: 404 without access, like a
// missing document), returning it with the caller's role.
func (s *Server) readableDocument(ctx context.Context, id string) (*gdoc.Document, gdoc.Role, error) {
	return s.access(ctx, id)
}

// usernames resolves user ids to usernames for one response ("" for an
// unknown user or none).
type usernames struct {
	store gdoc.Store
	names map[string]string
}

func (u *usernames) of(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if name, ok := u.names[id]; ok {
		return name, nil
	}
	name := ""
	user, err := u.store.UserByID(ctx, id)
	switch {
	case err == nil:
		name = user.Username
	case gdoc.ErrorCode(err) != gdoc.ENOTFOUND:
		return "", err
	}
	if u.names == nil {
		u.names = map[string]string{}
	}
	u.names[id] = name
	return name, nil
}

// HistoryAuthor is one user who took part in a session.
type HistoryAuthor struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Color    string `json:"color" doc:"The user's presence colour."`
}

// HistoryEntry is one editing session: the ops with from_rev < rev <= to_rev.
type HistoryEntry struct {
	FromRev     int64           `json:"from_rev" doc:"The revision before the session's first op."`
	ToRev       int64           `json:"to_rev" doc:"The session's last revision."`
	StartedAt   time.Time       `json:"started_at"`
	EndedAt     time.Time       `json:"ended_at"`
	Authors     []HistoryAuthor `json:"authors"`
	Inserted    int             `json:"inserted" doc:"Characters (code points) inserted."`
	Deleted     int             `json:"deleted" doc:"Characters (code points) deleted."`
	Kind        string          `json:"kind" enum:"edit,restore"`
	RestoredRev *int64          `json:"restored_rev,omitempty" doc:"For a restore: the revision whose text it brought back."`
}

// HistoryBody is a page of a document's history.
type HistoryBody struct {
	Entries    []HistoryEntry `json:"entries" doc:"Newest first."`
	StartRev   int64          `json:"start_rev" doc:"The oldest revision the history keeps (0 unless the document predates history)."`
	HeadRev    int64          `json:"head_rev"`
	NextBefore int64          `json:"next_before" doc:"Pass as before for the next, older page; 0 when there is none."`
}

type historyInput struct {
	DocumentPath
	Before int64 `query:"before" minimum:"0" doc:"Only sessions whose ops are at or before this revision (0: the head). Use next_before to page on."`
	Limit  int   `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type historyOutput struct{ Body HistoryBody }

func (s *Server) documentHistory(ctx context.Context, in *historyInput) (*historyOutput, error) {
	if _, _, err := s.readableDocument(ctx, in.ID); err != nil {
		return nil, err
	}
	page, err := s.history.Sessions(ctx, in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, err
	}
	names := &usernames{store: s.store}
	out := HistoryBody{Entries: make([]HistoryEntry, 0, len(page.Sessions)), StartRev: page.Start, HeadRev: page.Head, NextBefore: page.NextBefore}
	for _, sess := range page.Sessions {
		e := HistoryEntry{FromRev: sess.FromRev, ToRev: sess.ToRev, StartedAt: sess.StartedAt, EndedAt: sess.EndedAt,
			Authors: []HistoryAuthor{}, Inserted: sess.Inserted, Deleted: sess.Deleted, Kind: "edit"}
		if sess.RestoredRev >= 0 {
			e.Kind, e.RestoredRev = "restore", &sess.RestoredRev
		}
		for _, id := range sess.UserIDs {
			name, err := names.of(ctx, id)
			if err != nil {
				return nil, err
			}
			e.Authors = append(e.Authors, HistoryAuthor{UserID: id, Username: name, Color: gdoc.UserColor(id)})
		}
		out.Entries = append(out.Entries, e)
	}
	return &historyOutput{Body: out}, nil
}

// RevisionBody is the text at one revision and who made it.
type RevisionBody struct {
	Rev       int64     `json:"rev"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at" doc:"When the op that made this revision was committed (for the text as created, the document's creation)."`
	UserID    string    `json:"user_id" doc:"Who made it; empty for the text as created."`
	Username  string    `json:"username"`
}

type revisionInput struct {
	DocumentPath
	Rev int64 `path:"rev" minimum:"0" doc:"0 is the document as created."`
}

type revisionOutput struct{ Body RevisionBody }

func (s *Server) documentRevision(ctx context.Context, in *revisionInput) (*revisionOutput, error) {
	d, _, err := s.readableDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	r, err := s.history.Revision(ctx, d, in.Rev)
	if err != nil {
		return nil, err
	}
	name, err := (&usernames{store: s.store}).of(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return &revisionOutput{Body: RevisionBody{Rev: r.Rev, Content: r.Content, CreatedAt: r.CreatedAt, UserID: r.UserID, Username: name}}, nil
}

type restoreInput struct {
	DocumentPath
	Body struct {
		_   struct{} `additionalProperties:"true"`
		Rev *int64   `json:"rev" required:"true" minimum:"0" doc:"The revision whose text to bring back."`
	}
}

func (s *Server) restoreDocument(ctx context.Context, in *restoreInput) (*documentOutput, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	d, role, err := s.readableDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if !role.CanEdit() {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's editors may restore a revision.")
	}
	if in.Body.Rev == nil {
		return nil, gdoc.Errorf(gdoc.EINVALID, "rev: the revision to restore is required.")
	}
	after, err := s.history.Restore(ctx, s.collab, d, user, *in.Body.Rev)
	if err != nil {
		return nil, err
	}
	out := *d
	out.Content, out.Rev = after.Content, after.Rev
	return &documentOutput{Body: documentBody(ctx, &out)}, nil
}

// BlameLine is who last changed one line.
type BlameLine struct {
	Line      int       `json:"line" doc:"1-based line number."`
	UserID    string    `json:"user_id" doc:"Empty for a line as the document was created."`
	Username  string    `json:"username"`
	Color     string    `json:"color" doc:"The user's presence colour; empty when there is no user."`
	Rev       int64     `json:"rev" doc:"The revision of the op that last changed the line."`
	CreatedAt time.Time `json:"created_at"`
}

// BlameBody attributes every line of the text at rev.
type BlameBody struct {
	Rev   int64       `json:"rev"`
	Lines []BlameLine `json:"lines"`
}

type blameInput struct {
	DocumentPath
	Rev int64 `query:"rev" minimum:"-1" default:"-1" doc:"The revision; omitted (or -1): the head."`
}

type blameOutput struct{ Body BlameBody }

// headOr returns rev, or docID's head revision when rev < 0.
func (s *Server) headOr(ctx context.Context, docID string, rev int64) (int64, error) {
	if rev >= 0 {
		return rev, nil
	}
	return s.store.HeadRev(ctx, docID)
}

func (s *Server) documentBlame(ctx context.Context, in *blameInput) (*blameOutput, error) {
	d, _, err := s.readableDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	rev, err := s.headOr(ctx, d.ID, in.Rev)
	if err != nil {
		return nil, err
	}
	_, blame, err := s.history.Blame(ctx, d, rev)
	if err != nil {
		return nil, err
	}
	authors := blame.Authors()
	names := &usernames{store: s.store}
	out := BlameBody{Rev: rev, Lines: make([]BlameLine, len(authors))}
	for i, a := range authors {
		name, err := names.of(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		at := d.CreatedAt
		if a.At != 0 {
			at = time.UnixMilli(a.At).UTC()
		}
		color := ""
		if a.UserID != "" {
			color = gdoc.UserColor(a.UserID)
		}
		out.Lines[i] = BlameLine{Line: i + 1, UserID: a.UserID, Username: name, Color: color, Rev: a.Rev, CreatedAt: at}
	}
	return &blameOutput{Body: out}, nil
}

type downloadInput struct {
	DocumentPath
	Rev int64 `query:"rev" minimum:"-1" default:"-1" doc:"The revision; omitted (or -1): the head."`
}

type downloadOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func (s *Server) downloadDocument(ctx context.Context, in *downloadInput) (*downloadOutput, error) {
	d, _, err := s.readableDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	var content string
	if in.Rev < 0 {
		// The live text, with ops not yet in a snapshot.
		cur, err := s.collab.Current(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		content = cur.Content
	} else {
		r, err := s.history.Revision(ctx, d, in.Rev)
		if err != nil {
			return nil, err
		}
		content = r.Content
	}
	return &downloadOutput{
		ContentType:        "text/plain; charset=utf-8",
		ContentDisposition: contentDisposition(FileName(d.Title, d.Language)),
		Body:               []byte(content),
	}, nil
}

// extensionByLanguage is the file extension for a language id, the inverse
// of languageByExtension for its first extension.
var extensionByLanguage = map[string]string{
	"python": ".py", "go": ".go", "typescript": ".ts", "javascript": ".js", "json": ".json", "markdown": ".md",
	"html": ".html", "css": ".css", "scss": ".scss", "java": ".java", "c": ".c", "cpp": ".cpp", "csharp": ".cs",
	"rust": ".rs", "ruby": ".rb", "php": ".php", "shell": ".sh", "sql": ".sql", "yaml": ".yaml", "xml": ".xml",
	"kotlin": ".kt", "swift": ".swift", "lua": ".lua", "r": ".r", "plaintext": ".txt", "ini": ".ini",
}

// FileName is the download name of a document: its title, made safe as a
// file name, with its language's extension when the title has none.
func FileName(title, language string) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(title))
	name = strings.Trim(name, ". ")
	if name == "" {
		name = "document"
	}
	if language == "dockerfile" && path.Ext(name) == "" {
		return name
	}
	if path.Ext(name) == "" {
		ext, ok := extensionByLanguage[language]
		if !ok {
			ext = ".txt"
		}
		name += ext
	}
	return name
}

// contentDisposition is an attachment header for name: an ASCII fallback
// and the exact name in RFC 5987 form.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r > 0x7e || r < 0x20 {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}
