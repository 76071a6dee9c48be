package httpapi

import (
	"context"

	"github.com/gdoc/gdoc/internal/comments"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// commentDocument loads document id for a comment request: ENOTFOUND for a
// malformed id or no document. Access is the comments service's to check
// (a stranger to a private document gets 404 there too).
func (s *Server) commentDocument(ctx context.Context, id string) (*gdoc.Document, error) {
	if !gdoc.ValidDocumentID(id) {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	return s.store.Document(ctx, id)
}

// callerRole is the caller's role on d (the one access rule).
func callerRole(ctx context.Context, d *gdoc.Document) gdoc.Role {
	if u := userFrom(ctx); u != nil {
		return d.RoleOf(u.ID)
	}
	return d.RoleOf("")
}

// CommentsBody is every comment of a document.
type CommentsBody struct {
	Comments []*gdoc.Comment `json:"comments" doc:"Threads and replies in id order, resolved ones included; anchors at the current revision."`
}

type commentsOutput struct{ Body CommentsBody }

func (s *Server) listComments(ctx context.Context, in *DocumentPath) (*commentsOutput, error) {
	d, err := s.commentDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	list, err := s.comments.List(ctx, d.ID, callerRole(ctx, d))
	if err != nil {
		return nil, err
	}
	return &commentsOutput{Body: CommentsBody{Comments: list}}, nil
}

type commentOutput struct{ Body *gdoc.Comment }

type createCommentInput struct {
	DocumentPath
	Body struct {
		_        struct{}     `additionalProperties:"true"`
		Anchor   *gdoc.Anchor `json:"anchor,omitempty" doc:"A new thread on code points [from, to) of the text at revision rev."`
		ParentID *int64       `json:"parent_id,omitempty" doc:"A reply in this thread."`
		Body     string       `json:"body" doc:"Plain text; @username mentions are highlighted by clients."`
	}
}

func (s *Server) createComment(ctx context.Context, in *createCommentInput) (*commentOutput, error) {
	d, err := s.commentDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	c, err := s.comments.Create(ctx, d.ID, callerRole(ctx, d), userFrom(ctx), comments.NewComment{Anchor: in.Body.Anchor, ParentID: in.Body.ParentID, Body: in.Body.Body})
	if err != nil {
		return nil, err
	}
	return &commentOutput{Body: c}, nil
}

// CommentPath is the {id} and {cid} of a comment route.
type CommentPath struct {
	DocumentPath
	CID int64 `path:"cid" doc:"Comment id"`
}

type updateCommentInput struct {
	CommentPath
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Body     *string  `json:"body,omitempty" doc:"New text (the author only)."`
		Resolved *bool    `json:"resolved,omitempty" doc:"Resolve or reopen the thread (its author, or anyone who may edit the document)."`
	}
}

func (s *Server) updateComment(ctx context.Context, in *updateCommentInput) (*commentOutput, error) {
	d, err := s.commentDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	c, err := s.comments.Update(ctx, d.ID, callerRole(ctx, d), userFrom(ctx), in.CID, in.Body.Body, in.Body.Resolved)
	if err != nil {
		return nil, err
	}
	return &commentOutput{Body: c}, nil
}

func (s *Server) deleteComment(ctx context.Context, in *CommentPath) (*struct{}, error) {
	d, err := s.commentDocument(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return nil, s.comments.Delete(ctx, d.ID, callerRole(ctx, d), userFrom(ctx), in.CID)
}
