package httpapi

import (
	"context"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// The sharing endpoints: a document's members and its owner (issue 9). Who
// may do what is gdoc.Document.RoleOf's answer, read through s.access.

// MembersBody lists a document's owner and members.
type MembersBody struct {
	Members []gdoc.Member `json:"members" doc:"The owner first, then the members by username."`
}

type membersOutput struct{ Body MembersBody }

func (s *Server) listMembers(ctx context.Context, in *DocumentPath) (*membersOutput, error) {
	if _, _, err := s.access(ctx, in.ID); err != nil {
		return nil, err
	}
	members, err := s.store.Members(ctx, in.ID)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil, errNoDocument()
	} else if err != nil {
		return nil, err
	}
	return &membersOutput{Body: MembersBody{Members: members}}, nil
}

// MemberPath is the {id} and {username} of a member route.
type MemberPath struct {
	DocumentPath
	Username string `path:"username" maxLength:"254" doc:"The member's username (case-insensitive)" example:"bob"`
}

type setMemberInput struct {
	MemberPath
	Body struct {
		_    struct{} `additionalProperties:"true"`
		Role string   `json:"role" enum:"editor,viewer" doc:"The member's role."`
	}
}

type memberOutput struct{ Body gdoc.Member }

// ownerAccess is s.access for a signed-in caller who must own the document:
// 404 without read access, 403 with read access but not ownership.
func (s *Server) ownerAccess(ctx context.Context, id, what string) (*gdoc.User, *gdoc.Document, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, nil, err
	}
	d, role, err := s.access(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !role.IsOwner() {
		return nil, nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's owner may %s.", what)
	}
	return user, d, nil
}

// userNamed looks a user up by name for a sharing request.
func (s *Server) userNamed(ctx context.Context, username string) (*gdoc.User, error) {
	u, err := s.store.UserByUsername(ctx, username)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "There is no user named %q.", username)
	}
	return u, err
}

func (s *Server) setMember(ctx context.Context, in *setMemberInput) (*memberOutput, error) {
	_, d, err := s.ownerAccess(ctx, in.ID, "change its members")
	if err != nil {
		return nil, err
	}
	role := gdoc.Role(in.Body.Role)
	if !gdoc.ValidMemberRole(role) {
		return nil, gdoc.Errorf(gdoc.EINVALID, "role: must be editor or viewer.")
	}
	target, err := s.userNamed(ctx, in.Username)
	if err != nil {
		return nil, err
	}
	if target.ID == d.OwnerID {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The owner's role cannot be changed; transfer the ownership instead.")
	}
	m, err := s.store.SetMember(ctx, in.ID, target.ID, role)
	if err != nil {
		return nil, err
	}
	s.accessChanged(ctx, in.ID)
	return &memberOutput{Body: *m}, nil
}

func (s *Server) removeMember(ctx context.Context, in *MemberPath) (*struct{}, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	_, role, err := s.access(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	target, err := s.userNamed(ctx, in.Username)
	if err != nil {
		return nil, err
	}
	if !role.IsOwner() && target.ID != user.ID {
		return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the document's owner may remove other members.")
	}
	if err := s.store.RemoveMember(ctx, in.ID, target.ID); err != nil {
		if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
			return nil, gdoc.Errorf(gdoc.ENOTFOUND, "%s is not a member of this document.", target.Username)
		}
		return nil, err
	}
	s.accessChanged(ctx, in.ID)
	return nil, nil
}

type transferOwnerInput struct {
	DocumentPath
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Username string   `json:"username" maxLength:"254" doc:"A member, who becomes the owner; the old owner becomes an editor." example:"bob"`
	}
}

func (s *Server) transferOwner(ctx context.Context, in *transferOwnerInput) (*documentOutput, error) {
	_, _, err := s.ownerAccess(ctx, in.ID, "transfer its ownership")
	if err != nil {
		return nil, err
	}
	target, err := s.userNamed(ctx, in.Body.Username)
	if err != nil {
		return nil, err
	}
	d, err := s.store.TransferOwnership(ctx, in.ID, target.ID)
	if err != nil {
		return nil, err
	}
	s.accessChanged(ctx, in.ID)
	return s.currentDocument(ctx, d)
}

// accessChanged tells the collaboration layer that who may do what on
// document id changed (members, visibility, link role or owner), so that
// open connections follow.
func (s *Server) accessChanged(ctx context.Context, id string) {
	if s.collab != nil {
		s.collab.AccessChanged(ctx, id)
	}
}
