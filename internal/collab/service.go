// Package collab is the document authority: it orders, transforms, commits and fans out every edit, and tracks presence, cursors and chat.
//
// The core is authority (authority.go), pure and table-tested: an op
// written against revision r is rebased over the ops committed after r
// (incoming op on the Left, as ShareDB does) and committed at the head. A
// loaded document (document.go, lifecycle.go) keeps one authority: its text
// as a rope, head revision, a bounded window of recent ops and their ids.
// Submissions for a document are taken in batches by one worker goroutine
// at a time (submit.go), checked by the authority, and handed to the group
// committer (committer.go) that writes the batches of many documents in one
// AppendOps transaction. Only after that transaction returns are ops
// applied, acknowledged, delivered to local clients and published on the
// bus, so an ack always means durable. Other instances' ops arrive over the
// bus (events.go) and are applied in revision order; a gap, a lost event or
// a commit conflict is repaired from the OpLog, which is the order of
// truth. Joining (join.go), presence (presence.go), cursors (cursors.go),
// chat (chat.go) and metadata (metadata.go) each have their own file.
package collab

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gdoc/gdoc/internal/gdoc"
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
	storeTimeout    = 10 * time.Second
	defaultLanguage = "javascript"
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

	workers     taskGroup                  // document workers and presence recomputations
	sessionRows sessionQueue               // session rows waiting to be written (sessions.go)
	creates     batchQueue[*createRequest] // documents first joins create (create.go)
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
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = gdoc.DefaultMaxDocumentBytes
	}
	if cfg.MaxOpBytes <= 0 {
		cfg.MaxOpBytes = gdoc.DefaultMaxOpBytes
	}
	s := &Service{
		cfg:        cfg,
		sweepEvery: defaultSweepInterval,
		log:        cfg.Logger,
		docs:       make(map[string]*document),
	}
	s.committer = newGroupCommitter(cfg.Store)
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
		accessCheck.Stop() // an in-process bus loses no access event
	}
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
	s.committer.stop()
	s.workers.stopIdle()
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

// loaded returns docID's document when it is in memory, else nil.
func (s *Service) loaded(docID string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[docID]
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
	if d := s.loaded(docID); d != nil {
		// With peers, another instance may have committed ops this one has
		// not heard of yet (the bus is only a hint): the op log's head says
		// whether the loaded text is current. A single instance commits
		// every op itself, so its loaded text always is.
		head := doc.Rev
		if !s.cfg.SingleInstance {
			if head, err = s.cfg.Store.HeadRev(ctx, docID); err != nil {
				return nil, err
			}
		}
		d.mu.Lock()
		if d.open() && d.auth.head >= head {
			doc.Content, doc.Rev = d.auth.text.String(), d.auth.head
			d.mu.Unlock()
			return doc, nil
		}
		d.mu.Unlock()
	}
	auth, err := s.replayStored(ctx, doc, false)
	if err != nil {
		return nil, err
	}
	doc.Content, doc.Rev = auth.text.String(), auth.head
	return doc, nil
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
