package collab

import (
	"context"
	"encoding/json"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// MetadataChanged delivers the document's new title, language and
// publicity to its local clients and publishes them to other instances.
// Who keeps access is AccessChanged's business (and the periodic re-check's).
func (s *Service) MetadataChanged(ctx context.Context, doc *gdoc.Document, by *gdoc.User) {
	ev := gdoc.DocumentEvent{Document: *doc, UserID: by.ID, Username: by.Username}
	ev.Document.Content = ""
	s.applyDocumentEvent(doc.ID, ev)
	s.publishDocumentEvent(ctx, ev)
}

// publishDocumentEvent sends ev to the other instances.
func (s *Service) publishDocumentEvent(ctx context.Context, ev gdoc.DocumentEvent) {
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encoding a document event", "err", err)
		return
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: ev.Document.ID, Kind: gdoc.EventDocument, Payload: payload})
}

// applyDocumentEvent acts on a metadata change or deletion on this
// instance.
func (s *Service) applyDocumentEvent(docID string, ev gdoc.DocumentEvent) {
	if ev.Deleted {
		s.forgetLocal(docID)
		return
	}
	d := s.loaded(docID)
	if d == nil {
		return
	}
	d.mu.Lock()
	defer s.unlock(d)
	d.applyMetadataLocked(ev)
}

func (d *document) applyMetadataLocked(ev gdoc.DocumentEvent) {
	if !d.open() {
		return
	}
	d.meta.Title, d.meta.Language, d.meta.Public = ev.Document.Title, ev.Document.Language, ev.Document.Public
	msg := DocumentMessage{Document: ev.Document, UserID: ev.UserID, Username: ev.Username}
	// Who keeps access is recheckAccess's business (the event carries no
	// members); a client told to close hears nothing more.
	for id, c := range d.clients {
		if d.role(id).CanRead() {
			d.deliverLocked(c, msg)
		}
	}
}
