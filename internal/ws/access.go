package ws

import (
	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// StatusForbidden closes a connection whose user has no access (any more)
// to the document: a client must not reconnect.
const StatusForbidden websocket.StatusCode = 4403

// currentRole is the connection's role; RoleNone before the join answered.
func (s *session) currentRole() gdoc.Role {
	if r := s.role.Load(); r != nil {
		return *r
	}
	return gdoc.RoleNone
}
