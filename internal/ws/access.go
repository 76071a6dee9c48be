package ws

import (
	"github.com/gdoc/gdoc/internal/gdoc"
)

// currentRole is the connection's role; RoleNone before the join answered.
func (s *session) currentRole() gdoc.Role {
	if r := s.role.Load(); r != nil {
		return *r
	}
	return gdoc.RoleNone
}
