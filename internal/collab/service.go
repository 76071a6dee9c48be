// Package collab is the document authority: it orders, transforms, commits and fans out every edit, and tracks presence, cursors and chat.
//
// The core is a pure function, rebase: an op written against revision r is
// transformed over the ops committed after r (incoming op on the Left, as
// ShareDB does) and committed at the head. Around it: a loaded document
// keeps its text as a rope, its head revision and a bounded window of
// recent ops; submissions for a document are taken in batches by one worker
// goroutine at a time, validated against the text, and handed to a group
// committer that writes the batches of many documents in one AppendOps
// transaction. Only after that transaction returns are ops applied,
// acknowledged, delivered to local clients and published on the bus, so an
// ack always means durable. Other instances' ops arrive over the bus and are
// applied in revision order; a gap, a lost event or a commit conflict is
// repaired from the OpLog, which is the order of truth.
package collab

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

var _ gdoc.Collab = (*Service)(nil)

// Defaults for zero Config fields.
const (
	defaultAutoSaveInterval = 30 * time.Second
	defaultIdleUnload       = time.Minute
	// defaultSweepInterval is how often loaded documents recompute their
	// user set (so that users of an instance that died vanish once their
	// presence expires) and compare their head with the OpLog's.
	defaultSweepInterval = 5 * time.Second
	// storeTimeout bounds store calls made on nobody's request context
	// (commits shared by many clients, snapshots, session records).
	storeTimeout = 10 * time.Second
	// chatHistoryLimit is how many chat messages a joiner receives.
	chatHistoryLimit = 50
	// maxCursorFieldBytes bounds the seed-form cursor fields relayed as given.
	maxCursorFieldBytes = 4096
	defaultLanguage     = "javascript"
)

// Service owns the live state of every loaded document. Create it with New.
type Service struct {
	cfg        Config
	sweepEvery time.Duration
	log        *slog.Logger
	committer  *groupCommitter
	loads      singleflight.Group
	usernames  usernameCache

	mu      sync.Mutex
	docs    map[string]*document
	closing atomic.Bool // read without s.mu by code holding a document's lock

	workers taskGroup // document workers and presence recomputations
}

// New returns a Service. Commits work at once; Run does the periodic work
// (autosave, unloading idle documents, presence sweeps).
func New(cfg Config) *Service {
	if cfg.AutoSaveInterval <= 0 {
		cfg.AutoSaveInterval = defaultAutoSaveInterval
	}
	if cfg.IdleUnload <= 0 {
		cfg.IdleUnload = defaultIdleUnload
	}
	if cfg.AccessCheckInterval <= 0 {
		cfg.AccessCheckInterval = defaultAccessCheckInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{
		cfg:        cfg,
		sweepEvery: defaultSweepInterval,
		log:        cfg.Logger,
		docs:       make(map[string]*document),
	}
	s.committer = &groupCommitter{store: cfg.Store}
	s.usernames.store = cfg.Store
	return s
}

// LoadedDocuments counts the documents held in memory.
func (s *Service) LoadedDocuments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// Run does the background work until ctx is done: autosave every
// AutoSaveInterval, unloading documents idle for IdleUnload, presence
// sweeps. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	autosave := time.NewTicker(s.cfg.AutoSaveInterval)
	defer autosave.Stop()
	unloadEvery := min(max(s.cfg.IdleUnload/4, 10*time.Millisecond), 5*time.Second)
	unload := time.NewTicker(unloadEvery)
	defer unload.Stop()
	sweep := time.NewTicker(s.sweepEvery)
	defer sweep.Stop()
	accessCheck := time.NewTicker(s.cfg.AccessCheckInterval)
	defer accessCheck.Stop()
	if s.cfg.SingleInstance {
		sweep.Stop() // nothing to repair: its channel never fires
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-autosave.C:
			s.saveDirty(ctx)
		case <-accessCheck.C:
			s.recheckAll(ctx)
		case <-unload.C:
			s.unloadIdle(ctx, time.Now())
		case <-sweep.C:
			for _, d := range s.loadedDocs() {
				s.queuePresence(d)
				s.checkHead(ctx, d)
			}
		}
	}
}

func (s *Service) loadedDocs() []*document {
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := make([]*document, 0, len(s.docs))
	for _, d := range s.docs {
		docs = append(docs, d)
	}
	return docs
}

// Shutdown stops taking ops, lets running commits finish, writes snapshots
// of dirty documents, tells clients Closing and removes this instance's
// connections from presence.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() { s.workers.Wait(); close(finished) }()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.saveDirty(ctx)

	s.mu.Lock()
	docs := s.docs
	s.docs = make(map[string]*document)
	s.mu.Unlock()
	for _, d := range docs {
		s.closeDocument(d, ReasonShutdown)
	}
	return err
}

// closeDocument drops d from memory: its clients get ClosingMessage, its
// connections leave presence, its queued ops are refused.
func (s *Service) closeDocument(d *document, reason string) {
	d.mu.Lock()
	d.unloaded = true
	clients := d.clients
	sessions := d.sessions
	d.clients = make(map[string]Client)
	d.sessions = make(map[string]int64)
	pending := d.pending
	d.pending = nil
	for _, c := range clients {
		c.Deliver(ClosingMessage{Reason: reason})
	}
	for _, sub := range pending {
		d.finishLocked(sub, 0, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed (%s); resend the op later.", reason))
	}
	cancel := d.cancelSub
	d.cancelSub = nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	ctx, done := context.WithTimeout(context.Background(), storeTimeout)
	defer done()
	now := time.Now()
	for connID := range clients {
		if err := s.cfg.Presence.Leave(ctx, d.id, connID); err != nil {
			s.log.Warn("presence leave failed", "doc", d.id, "conn", connID, "err", err)
		}
		if id, ok := sessions[connID]; ok {
			if err := s.cfg.Store.EndSession(ctx, id, now); err != nil && gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
				s.log.Warn("ending session failed", "doc", d.id, "err", err)
			}
		}
	}
	if len(clients) > 0 {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventPresence})
	}
}

// loaded returns docID's document when it is in memory, else nil.
func (s *Service) loaded(docID string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[docID]
}

// Forget drops the document's live state and disconnects its clients, here
// and, through the bus, on the other instances (after the document was
// deleted).
func (s *Service) Forget(docID string) {
	s.forgetLocal(docID)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s.publishDocumentEvent(ctx, gdoc.DocumentEvent{Document: gdoc.Document{ID: docID}, Deleted: true})
}

func (s *Service) forgetLocal(docID string) {
	s.mu.Lock()
	d := s.docs[docID]
	delete(s.docs, docID)
	s.mu.Unlock()
	if d != nil {
		s.closeDocument(d, ReasonDeleted)
	}
}

// checkHead compares d with the OpLog and catches up when another instance
// committed ops whose bus events were lost (the bus is at most once).
// It returns the OpLog's head (-1 when unknown).
func (s *Service) checkHead(ctx context.Context, d *document) int64 {
	head, err := s.cfg.Store.HeadRev(ctx, d.id)
	if err != nil {
		return -1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if head > d.head && !d.unloaded {
		d.remoteHint = max(d.remoteHint, head)
		s.startWorkerLocked(d)
	}
	return head
}

// waitHead waits until d reached rev, catching up from the OpLog, for a
// client reconnecting from an instance that is a little ahead of this one.
func (s *Service) waitHead(ctx context.Context, d *document, rev int64) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.checkHead(ctx, d) < rev {
		return // no instance has it: the client is wrong
	}
	for {
		d.mu.Lock()
		head := d.head
		d.mu.Unlock()
		if head >= rev || ctx.Err() != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// saveDirty writes a snapshot of every document changed since its last one.
func (s *Service) saveDirty(ctx context.Context) {
	for _, d := range s.loadedDocs() {
		s.saveSnapshot(ctx, d)
	}
}

func (s *Service) saveSnapshot(ctx context.Context, d *document) {
	d.mu.Lock()
	if d.head <= d.savedRev || !d.loaded {
		d.mu.Unlock()
		return
	}
	content, rev := d.text.String(), d.head
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := s.cfg.Store.SaveSnapshot(ctx, d.id, content, rev); err != nil {
		s.log.Error("saving snapshot failed", "doc", d.id, "rev", rev, "err", err)
		return
	}
	d.mu.Lock()
	d.savedRev = max(d.savedRev, rev)
	d.mu.Unlock()
	s.log.Info("Saved document "+d.id+" at rev "+itoa(rev), "doc", d.id, "rev", rev)
}

// unloadIdle drops documents whose last client left IdleUnload before now,
// after writing their snapshot, so memory follows the documents in use,
// not every document ever opened.
func (s *Service) unloadIdle(ctx context.Context, now time.Time) {
	var idle []*document
	s.mu.Lock()
	for id, d := range s.docs {
		d.mu.Lock()
		if d.loaded && len(d.clients) == 0 && d.holds == 0 && !d.busy && len(d.pending) == 0 &&
			!d.idleSince.IsZero() && now.Sub(d.idleSince) >= s.cfg.IdleUnload {
			d.unloaded = true
			delete(s.docs, id)
			idle = append(idle, d)
		}
		d.mu.Unlock()
	}
	s.mu.Unlock()
	for _, d := range idle {
		s.saveSnapshot(ctx, d)
		d.mu.Lock()
		cancel := d.cancelSub
		d.cancelSub = nil
		d.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
}

// hold returns docID's loaded document, loading it first, and keeps it
// loaded until release. ENOTFOUND when it does not exist.
func (s *Service) hold(ctx context.Context, docID string) (*document, error) {
	for {
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down.")
		}
		if d := s.docs[docID]; d != nil {
			d.mu.Lock()
			d.holds++
			d.mu.Unlock()
			s.mu.Unlock()
			return d, nil
		}
		s.mu.Unlock()
		// Loads are shared by concurrent callers, so a caller's cancelled
		// context must not fail the others.
		_, err, _ := s.loads.Do(docID, func() (any, error) {
			loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			defer cancel()
			return nil, s.load(loadCtx, docID)
		})
		if err != nil {
			return nil, err
		}
	}
}

func (s *Service) release(d *document) {
	d.mu.Lock()
	d.holds--
	if d.holds == 0 && len(d.clients) == 0 {
		d.idleSince = time.Now()
	}
	d.mu.Unlock()
}

// load reads docID into memory: subscribe first, then read the snapshot
// and the ops after it, then apply the events that arrived meanwhile, so
// nothing committed falls between the two (STYLE.md "subscribe, then
// load").
func (s *Service) load(ctx context.Context, docID string) error {
	s.mu.Lock()
	_, already := s.docs[docID]
	s.mu.Unlock()
	if already {
		return nil
	}
	d := newDocument(docID)
	d.onDrop = func(gone departure) {
		s.workers.Go(func() { s.finishLeave(d, gone) })
	}
	cancel, err := s.cfg.Bus.Subscribe(ctx, docID, func(ev gdoc.Event) { s.handleEvent(d, ev) })
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	meta, err := s.cfg.Store.Document(ctx, docID)
	if err != nil {
		return err
	}
	ops, err := s.cfg.Store.Ops(ctx, docID, meta.Rev, 0)
	if err != nil {
		return err
	}
	history, err := s.resolve(ctx, ops)
	if err != nil {
		return err
	}
	d.text = ot.NewText(meta.Content)
	d.head, d.savedRev, d.idsFrom = meta.Rev, meta.Rev, meta.Rev
	for _, c := range history {
		if c.op.Rev != d.head+1 {
			return gdoc.Errorf(gdoc.EINTERNAL, "document %s: op log has rev %d after %d", docID, c.op.Rev, d.head)
		}
		if err := d.applyCommittedLocked(c); err != nil {
			return gdoc.Errorf(gdoc.EINTERNAL, "document %s: op %d does not apply: %v", docID, c.op.Rev, err)
		}
	}
	meta.Content = ""
	d.meta = *meta
	d.cancelSub = cancel
	d.idleSince = time.Now()

	d.mu.Lock()
	d.loaded = true
	early := d.early
	d.early = nil
	for _, ev := range early {
		s.handleEventLocked(d, ev)
	}
	d.mu.Unlock()

	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down.")
	}
	s.docs[docID] = d
	s.mu.Unlock()
	ok = true
	return nil
}

// resolve parses stored ops and finds their authors' names.
func (s *Service) resolve(ctx context.Context, ops []gdoc.CommittedOp) ([]committed, error) {
	out := make([]committed, len(ops))
	for i, op := range ops {
		parsed, err := ot.Parse(op.Op)
		if err != nil {
			return nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: stored op %d is malformed: %v", op.DocID, op.Rev, err)
		}
		out[i] = committed{op: op, parsed: parsed, username: s.usernames.get(ctx, op.UserID)}
	}
	return out, nil
}

// Current returns the document with its current content and revision: from
// memory when loaded, else from the store without loading it. ENOTFOUND.
func (s *Service) Current(ctx context.Context, docID string) (*gdoc.Document, error) {
	if !gdoc.ValidDocumentID(docID) {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	doc, err := s.cfg.Store.Document(ctx, docID)
	if err != nil {
		return nil, err
	}
	d := s.loaded(docID)
	if d != nil {
		d.mu.Lock()
		if d.loaded && !d.unloaded && d.head >= doc.Rev {
			doc.Content, doc.Rev = d.text.String(), d.head
			d.mu.Unlock()
			return doc, nil
		}
		d.mu.Unlock()
	}
	ops, err := s.cfg.Store.Ops(ctx, docID, doc.Rev, 0)
	if err != nil {
		return nil, err
	}
	text := ot.NewText(doc.Content)
	for _, op := range ops {
		parsed, err := ot.Parse(op.Op)
		if err != nil {
			return nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: stored op %d is malformed: %v", docID, op.Rev, err)
		}
		if err := text.Apply(parsed); err != nil {
			return nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: stored op %d does not apply: %v", docID, op.Rev, err)
		}
		doc.Rev = op.Rev
	}
	doc.Content = text.String()
	return doc, nil
}

// ActiveUsers lists the users connected to docID on every instance, in
// order of their first connection.
func (s *Service) ActiveUsers(ctx context.Context, docID string) ([]gdoc.ActiveUser, error) {
	parts, err := s.cfg.Presence.Participants(ctx, docID)
	if err != nil {
		return nil, err
	}
	users := groupUsers(parts)
	if users == nil {
		users = []gdoc.ActiveUser{}
	}
	return users, nil
}

// usernameCache remembers user names for ops read from the OpLog, which
// stores only user ids.
type usernameCache struct {
	store gdoc.Store
	mu    sync.Mutex
	names map[string]string
}

const usernameCacheLimit = 10000

func (c *usernameCache) get(ctx context.Context, userID string) string {
	c.mu.Lock()
	name, ok := c.names[userID]
	c.mu.Unlock()
	if ok || userID == "" {
		return name
	}
	u, err := c.store.UserByID(ctx, userID)
	if err != nil {
		return "" // a deleted user's ops still apply; the name is cosmetic
	}
	c.put(userID, u.Username)
	return u.Username
}

func (c *usernameCache) put(userID, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil || len(c.names) >= usernameCacheLimit {
		c.names = make(map[string]string)
	}
	c.names[userID] = name
}

func sortUsers(users map[string]gdoc.ActiveUser, order []gdoc.ActiveUser) []gdoc.ActiveUser {
	out := make([]gdoc.ActiveUser, 0, len(users))
	seen := make(map[string]bool)
	for _, u := range order {
		if cur, ok := users[u.UserID]; ok && !seen[u.UserID] {
			out = append(out, cur)
			seen[u.UserID] = true
		}
	}
	var rest []gdoc.ActiveUser
	for id, u := range users {
		if !seen[id] {
			rest = append(rest, u)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].UserID < rest[j].UserID })
	return append(out, rest...)
}
