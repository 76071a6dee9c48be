package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Store wraps s: it times every group commit, counts its ops, the committed
// ops and chat messages, and the calls that fail with a server fault or an
// unavailable database.
func (m *Metrics) Store(s gdoc.Store) gdoc.Store { return &store{Store: s, m: m} }

type store struct {
	gdoc.Store
	m *Metrics
}

var _ gdoc.Store = (*store)(nil)

func (s *store) check(operation string, err error) error {
	if isFault(err) {
		s.m.dbErrors.WithLabelValues(operation).Inc()
	}
	return err
}

// isFault reports an error that is the database's fault: not a client's
// mistake (not found, conflict, invalid) and not a canceled call.
func isFault(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	code := gdoc.ErrorCode(err)
	return code == gdoc.EINTERNAL || code == gdoc.EUNAVAILABLE
}

func (s *store) AppendOps(ctx context.Context, batches []gdoc.OpBatch) ([]error, error) {
	start := time.Now()
	errs, err := s.Store.AppendOps(ctx, batches)
	s.m.commitSeconds.Observe(time.Since(start).Seconds())
	n := 0
	for _, b := range batches {
		n += len(b.Ops)
	}
	s.m.commitOps.Observe(float64(n))
	if s.check("append_ops", err) != nil {
		return errs, err
	}
	committed := 0
	for i, b := range batches {
		if i < len(errs) && errs[i] == nil {
			committed += len(b.Ops)
		}
	}
	s.m.opsCommitted.Add(float64(committed))
	return errs, err
}

func (s *store) AddChatMessage(ctx context.Context, msg *gdoc.ChatMessage) error {
	err := s.Store.AddChatMessage(ctx, msg)
	if err == nil {
		s.m.chatMessages.Inc()
	}
	return s.check("add_chat_message", err)
}

func (s *store) CreateUser(ctx context.Context, u *gdoc.User) error {
	return s.check("create_user", s.Store.CreateUser(ctx, u))
}

func (s *store) UserByID(ctx context.Context, id string) (*gdoc.User, error) {
	u, err := s.Store.UserByID(ctx, id)
	return u, s.check("user_by_id", err)
}

func (s *store) UserByUsername(ctx context.Context, username string) (*gdoc.User, error) {
	u, err := s.Store.UserByUsername(ctx, username)
	return u, s.check("user_by_username", err)
}

func (s *store) CreateDocument(ctx context.Context, d *gdoc.Document) error {
	return s.check("create_document", s.Store.CreateDocument(ctx, d))
}

func (s *store) CreateDocumentsUnlessDeleted(ctx context.Context, docs []*gdoc.Document) []error {
	out := s.Store.CreateDocumentsUnlessDeleted(ctx, docs)
	for _, err := range out {
		if isFault(err) { // one transaction: counted once
			_ = s.check("create_documents", err)
			break
		}
	}
	return out
}

func (s *store) DocumentMeta(ctx context.Context, id string) (*gdoc.Document, error) {
	d, err := s.Store.DocumentMeta(ctx, id)
	return d, s.check("document_meta", err)
}

func (s *store) Document(ctx context.Context, id string) (*gdoc.Document, error) {
	d, err := s.Store.Document(ctx, id)
	return d, s.check("document", err)
}

func (s *store) Documents(ctx context.Context, viewerID string) ([]*gdoc.Document, error) {
	d, err := s.Store.Documents(ctx, viewerID)
	return d, s.check("documents", err)
}

func (s *store) UpdateDocumentMeta(ctx context.Context, id string, title, language *string, public *bool) (*gdoc.Document, error) {
	d, err := s.Store.UpdateDocumentMeta(ctx, id, title, language, public)
	return d, s.check("update_document_meta", err)
}

func (s *store) DeleteDocument(ctx context.Context, id string) error {
	return s.check("delete_document", s.Store.DeleteDocument(ctx, id))
}

func (s *store) SaveSnapshot(ctx context.Context, id string, content string, rev int64) error {
	return s.check("save_snapshot", s.Store.SaveSnapshot(ctx, id, content, rev))
}

func (s *store) Ops(ctx context.Context, docID string, from, to int64) ([]gdoc.CommittedOp, error) {
	ops, err := s.Store.Ops(ctx, docID, from, to)
	return ops, s.check("ops", err)
}

func (s *store) HeadRev(ctx context.Context, docID string) (int64, error) {
	rev, err := s.Store.HeadRev(ctx, docID)
	return rev, s.check("head_rev", err)
}

func (s *store) OpRev(ctx context.Context, docID, userID, opID string) (int64, error) {
	rev, err := s.Store.OpRev(ctx, docID, userID, opID)
	return rev, s.check("op_rev", err)
}

func (s *store) ChatMessages(ctx context.Context, docID string, beforeID int64, limit int) ([]*gdoc.ChatMessage, error) {
	msgs, err := s.Store.ChatMessages(ctx, docID, beforeID, limit)
	return msgs, s.check("chat_messages", err)
}

func (s *store) StartSession(ctx context.Context, ds *gdoc.DocSession) error {
	return s.check("start_session", s.Store.StartSession(ctx, ds))
}

func (s *store) StartSessions(ctx context.Context, ss []*gdoc.DocSession) error {
	return s.check("start_sessions", s.Store.StartSessions(ctx, ss))
}

func (s *store) EndSessions(ctx context.Context, ends []gdoc.SessionEnd) error {
	return s.check("end_sessions", s.Store.EndSessions(ctx, ends))
}

func (s *store) EndSession(ctx context.Context, id int64, leftAt time.Time) error {
	return s.check("end_session", s.Store.EndSession(ctx, id, leftAt))
}

func (s *store) Sessions(ctx context.Context, docID string, limit int) ([]*gdoc.DocSession, error) {
	out, err := s.Store.Sessions(ctx, docID, limit)
	return out, s.check("sessions", err)
}

func (s *store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.check("revoke_token", s.Store.RevokeToken(ctx, jti, expiresAt))
}

func (s *store) UserForToken(ctx context.Context, userID, jti string) (*gdoc.User, bool, error) {
	u, revoked, err := s.Store.UserForToken(ctx, userID, jti)
	return u, revoked, s.check("user_for_token", err)
}

func (s *store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	ok, err := s.Store.TokenRevoked(ctx, jti)
	return ok, s.check("token_revoked", err)
}

func (s *store) Ping(ctx context.Context) error {
	return s.check("ping", s.Store.Ping(ctx))
}

// Bus wraps b to count failed publishes and subscriptions.
func (m *Metrics) Bus(b gdoc.Bus) gdoc.Bus {
	for _, op := range []string{"publish", "subscribe", "presence_join", "presence_leave", "presence_participants"} {
		m.redisErrors.WithLabelValues(op)
	}
	return &bus{Bus: b, m: m}
}

type bus struct {
	gdoc.Bus
	m *Metrics
}

func (b *bus) check(operation string, err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		b.m.redisErrors.WithLabelValues(operation).Inc()
	}
	return err
}

func (b *bus) Publish(ctx context.Context, ev gdoc.Event) error {
	return b.check("publish", b.Bus.Publish(ctx, ev))
}

func (b *bus) Subscribe(ctx context.Context, docID string, handle func(gdoc.Event)) (func(), error) {
	cancel, err := b.Bus.Subscribe(ctx, docID, handle)
	return cancel, b.check("subscribe", err)
}

// Presence wraps p to count failed calls.
func (m *Metrics) Presence(p gdoc.Presence) gdoc.Presence { return &presence{Presence: p, m: m} }

type presence struct {
	gdoc.Presence
	m *Metrics
}

func (p *presence) check(operation string, err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		p.m.redisErrors.WithLabelValues(operation).Inc()
	}
	return err
}

func (p *presence) Join(ctx context.Context, docID string, part gdoc.Participant) error {
	return p.check("presence_join", p.Presence.Join(ctx, docID, part))
}

func (p *presence) Leave(ctx context.Context, docID, connID string) error {
	return p.check("presence_leave", p.Presence.Leave(ctx, docID, connID))
}

func (p *presence) Participants(ctx context.Context, docID string) ([]gdoc.Participant, error) {
	out, err := p.Presence.Participants(ctx, docID)
	return out, p.check("presence_participants", err)
}
