package gdoc

// Wire limits: every bound a client's message is checked against, defined
// once. internal/ws, internal/collab and (through web/src/protocol.ts, whose
// constants a test compares with testdata/limits.json) the web client use
// these names; docs/protocol.md states them.
const (
	// MaxMessageBytes is the largest WebSocket message a client may send.
	MaxMessageBytes = 1 << 20
	// MaxOpIDBytes bounds an op id ("<client id>:<seq>").
	MaxOpIDBytes = 256
	// MaxClientIDBytes bounds the client id a connection announces.
	MaxClientIDBytes = 128
	// MaxCursorFieldBytes bounds each seed-form cursor field relayed as given.
	MaxCursorFieldBytes = 1024
	// MaxChatChars bounds one chat message, in Unicode code points (not
	// UTF-16 units: an emoji counts once on every side).
	MaxChatChars = 2000
	// ChatHistoryLimit is how many chat messages a joiner receives.
	ChatHistoryLimit = 50
)

// DefaultMaxDocumentBytes is the default bound on a document's text, in
// UTF-8 bytes (MAX_DOCUMENT_BYTES): a REST create or PUT past it is refused
// with too_large (413) and changes nothing.
const DefaultMaxDocumentBytes = 4 << 20

// DefaultMaxOpBytes is the default bound on the text one op inserts, in
// UTF-8 bytes (MAX_OP_BYTES): a bigger op is refused with too_large and
// changes nothing (the connection stays open).
const DefaultMaxOpBytes = 1 << 20
