package ws

import (
	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/collab"
)

// Close codes (docs/protocol.md, "Close codes"). A client decides from the
// code alone whether to reconnect: it reconnects after CloseGoingAway,
// CloseInternalError, CloseSlowConsumer (and 1006, a dropped connection)
// and stops after any 44xx other than CloseSlowConsumer. The close reason
// is for people (the seed dialect's reasons, "Missing token" and so on,
// are kept as it).
const (
	CloseGoingAway                            = websocket.StatusGoingAway     // 1001: the server is stopping
	CloseInternalError                        = websocket.StatusInternalError // 1011: a server fault or a backend down
	CloseUnauthenticated websocket.StatusCode = 4401                          // missing, invalid, expired or revoked token
	CloseForbidden       websocket.StatusCode = 4403                          // the document is not the user's to open (or became private)
	CloseNotFound        websocket.StatusCode = 4404                          // no such document, or it was deleted
	CloseBadRevision     websocket.StatusCode = 4409                          // ?since= is not a revision the server has
	CloseTooLarge        websocket.StatusCode = 4413                          // a message over the size limit
	CloseSlowConsumer    websocket.StatusCode = 4429                          // the send queue was full
)

// refusal is why the server ends a connection. closeCode turns it into the
// close code; every close of a connection goes through it.
type refusal uint8

const (
	endNormal              refusal = iota // the client closed first
	endGoingAway                          // the server is stopping, or the peer is gone
	endInternal                           // a server fault, or storage or auth unavailable
	refusedUnauthenticated                // token missing, invalid, expired or revoked
	refusedForbidden                      // the user may not open the document
	refusedNotFound                       // no such document (or an id that cannot be one), or deleted
	refusedBadRevision                    // ?since= ahead of the server, negative or not a number
	refusedTooLarge                       // a message over MaxMessageBytes
	refusedSlowConsumer                   // the send queue was full
)

// closeCode is the one mapping from a refusal to the close code the
// connection ends with.
func closeCode(r refusal) websocket.StatusCode {
	switch r {
	case endNormal:
		return websocket.StatusNormalClosure
	case endGoingAway:
		return CloseGoingAway
	case refusedUnauthenticated:
		return CloseUnauthenticated
	case refusedForbidden:
		return CloseForbidden
	case refusedNotFound:
		return CloseNotFound
	case refusedBadRevision:
		return CloseBadRevision
	case refusedTooLarge:
		return CloseTooLarge
	case refusedSlowConsumer:
		return CloseSlowConsumer
	default:
		return CloseInternalError
	}
}

// closingRefusal classifies collab's reason for closing a connection.
func closingRefusal(reason string) refusal {
	switch reason {
	case collab.ReasonDeleted:
		return refusedNotFound
	case collab.ReasonPrivate, collab.ReasonAccessRevoked:
		return refusedForbidden
	case reasonOutOfSync:
		return endInternal
	default:
		return endGoingAway
	}
}

// closeConn closes a connection that has no session (yet).
func closeConn(conn *websocket.Conn, r refusal, reason string) {
	// A failed close needs no handling: the connection is gone either way.
	_ = conn.Close(closeCode(r), reason)
}
