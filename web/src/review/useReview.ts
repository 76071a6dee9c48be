// useReview gives the editor page its Review (comments, chat links) and
// Follow (follow mode, presenting) for a session, started and stopped with
// the page, and bind() for the editor.

import { useEffect, useMemo } from 'react'
import type { DocumentSession } from '../collab/session'
import type { Monaco } from '../editor/monacoSetup'
import { bindReview } from './editorReview'
import { Review } from './review'
import { Follow } from './follow'
import { stampLinks } from './links'
import './review.css'

type CodeEditor = Parameters<typeof bindReview>[0]

export function useReview(docId: string, session: DocumentSession) {
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
  return useMemo(() => {
    let unbind: (() => void) | null = null
    return {
      review,
      follow,
      /** bind attaches the review and follow mode to a mounted editor (again on remount). */
      bind(ed: CodeEditor, monaco: Monaco) {
        unbind?.()
        const a = bindReview(ed, monaco, review)
        const b = follow.attach(ed)
        unbind = () => {
          a()
          b()
        }
      },
      /**
       * stamp gives the chat links of a draft the revision and place of
       * their lines, when the local text is the server's (no unsaved edits).
       */
      stamp(draft: string): string {
        return session.getSnapshot().unsaved === 0 ? stampLinks(draft, session.text, session.serverRev) : draft
      },
    }
  }, [review, follow, session])
}
