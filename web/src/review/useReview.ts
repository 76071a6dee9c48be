// useReview gives the editor page its Review (comments, chat links) and
// Follow (follow mode, presenting) for a session, started and stopped with
// the page, and bind() for the editor.

import { useEffect, useMemo } from 'react'
import type { DocumentSession } from '../collab/session'
import type { Monaco } from '../editor/monacoSetup'
import { bindReview } from './editorReview'
import { Follow } from './follow'
import { stampLinks } from './links'
import { Review } from './review'
import './review.css'

type CodeEditor = Parameters<typeof bindReview>[0]

/** ReviewPage is what the editor page holds of the review features. */
export class ReviewPage {
  readonly review: Review
  readonly follow: Follow
  private readonly session: DocumentSession
  private unbind: (() => void) | null = null

  constructor(review: Review, follow: Follow, session: DocumentSession) {
    this.review = review
    this.follow = follow
    this.session = session
  }

  /** bind attaches the review and follow mode to a mounted editor (again on remount). */
  bind(ed: CodeEditor, monaco: Monaco): void {
    this.unbind?.()
    const a = bindReview(ed, monaco, this.review)
    const b = this.follow.attach(ed)
    this.unbind = () => {
      a()
      b()
    }
  }

  /**
   * stamp gives the chat links of a draft the revision and place of their
   * lines, when the local text is the server's (no unsaved edits).
   */
  stamp(draft: string): string {
    const s = this.session
    return s.getSnapshot().unsaved === 0 ? stampLinks(draft, s.text, s.serverRev) : draft
  }
}

export function useReview(docId: string, session: DocumentSession): ReviewPage {
  const review = useMemo(() => new Review(docId, session), [docId, session])
  const follow = useMemo(() => new Follow(session), [session])
  useEffect(() => {
    review.start()
    follow.start()
    // Exposed for end-to-end tests and debugging, like window.gdocSession.
    Object.assign(window as object, { gdocReview: review, gdocFollow: follow })
    return () => {
      review.stop()
      follow.stop()
    }
  }, [review, follow])
  return useMemo(() => new ReviewPage(review, follow, session), [review, follow, session])
}
