// RevisionMap moves ranges the server gives at a revision (comment anchors,
// chat links) to the local text: through the server ops committed since, as
// the session applied them, then through the local edits not yet
// acknowledged. It keeps the most recent ops only; an older range is the
// caller's to refresh from the server.

import type { DocumentSession } from '../collab/session'
import { type TextRange, transformRange } from '../collab/range'
import type { TextOp } from '../collab/textOp'

const KEEP = 2000

export class RevisionMap {
  private readonly ops: { rev: number; op: TextOp }[] = []
  private readonly session: DocumentSession
  private readonly offs: (() => void)[]

  constructor(session: DocumentSession) {
    this.session = session
    this.offs = [
      session.onServerOp((rev, op) => {
        const last = this.ops[this.ops.length - 1]
        if (last && rev !== last.rev + 1) this.ops.length = 0 // a jump: what we kept no longer leads here
        this.ops.push({ rev, op })
        if (this.ops.length > KEEP) this.ops.shift()
      }),
      session.onMessage((m) => {
        // Whole content instead of ops: the text was replaced, and the ops
        // kept no longer lead to it.
        if (m.type === 'init' && m.content !== undefined) this.ops.length = 0
      }),
    ]
  }

  dispose(): void {
    for (const off of this.offs) off()
  }

  /**
   * toServerHead moves range, of the server's text at rev, to the server
   * revision this session is at (without its pending edits); null when rev
   * is ahead of this session, or older than the ops kept.
   */
  toServerHead(rev: number, range: TextRange): { rev: number; range: TextRange } | null {
    const head = this.session.serverRev
    if (rev > head) return null
    let r = range
    if (rev < head) {
      const first = this.ops.findIndex((o) => o.rev === rev + 1)
      if (first < 0 || this.ops[this.ops.length - 1].rev !== head) return null
      for (let i = first; i < this.ops.length; i++) r = transformRange(r, this.ops[i].op)
    }
    return { rev: head, range: r }
  }

  /** withPending moves a range of the server head's text over the local edits not yet acknowledged. */
  withPending(range: TextRange): TextRange {
    let r = range
    for (const op of this.session.pendingOps) r = transformRange(r, op)
    return r
  }

  /** map moves range, of the server's text at rev, to the local text (see toServerHead). */
  map(rev: number, range: TextRange): TextRange | null {
    const at = this.toServerHead(rev, range)
    return at && this.withPending(at.range)
  }
}
