// RemoteCursors holds other connections' selections in code points of the
// local text: it brings each incoming cursor from the revision it names to
// ours (over the recent committed ops and our pending ones) and moves every
// cursor through each later change of the text.

import type { CursorMessage } from '../protocol'
import { codePointLength } from './offsets'
import type { TextOp } from './textOp'
import { textType } from './textOp'

/** RemoteCursor is another connection's selection, in code points of the local text. */
export interface RemoteCursor {
  conn_id: string
  user_id: string
  username: string
  color: string
  anchor: number
  head: number
}

/** How many committed ops are kept to carry a cursor from an older revision. */
const RECENT_OPS = 500

export class RemoteCursors {
  private readonly byConn = new Map<string, RemoteCursor>()
  private readonly recentOps: { rev: number; op: TextOp }[] = []

  list(): RemoteCursor[] {
    return [...this.byConn.values()]
  }

  /** remember records a committed op, to carry cursors sent at older revisions. */
  remember(rev: number, op: TextOp): void {
    this.recentOps.push({ rev, op })
    if (this.recentOps.length > RECENT_OPS) this.recentOps.shift()
  }

  /** forgetOps drops the op window (the text was replaced by a fresh join). */
  forgetOps(): void {
    this.recentOps.length = 0
  }

  /** transform moves every cursor through a change of the local text. */
  transform(op: TextOp): void {
    for (const c of this.byConn.values()) {
      c.anchor = textType.transformPosition(c.anchor, op)
      c.head = textType.transformPosition(c.head, op)
    }
  }

  clear(): void {
    this.byConn.clear()
  }

  removeUser(userId: string): void {
    for (const [k, c] of this.byConn) if (c.user_id === userId) this.byConn.delete(k)
  }

  /**
   * receive takes a cursor message; text, rev and pendingOps are the local
   * text, the client's revision and its unacknowledged ops. It returns
   * whether the cursors changed.
   */
  receive(m: CursorMessage, local: { text: string; rev: number; pendingOps: readonly TextOp[] } | null): boolean {
    const key = m.conn_id ?? m.user_id
    if (m.removed) {
      this.byConn.delete(key)
      return true
    }
    if (!local) return false
    let anchor: number
    let head: number
    if (typeof m.anchor === 'number' && typeof m.head === 'number') {
      anchor = m.anchor
      head = m.head
    } else if (m.position && typeof m.position.lineNumber === 'number' && typeof m.position.column === 'number') {
      // A seed-dialect client: a line/column caret in the current text.
      anchor = head = lineColumnToCodePoint(local.text, m.position.lineNumber, m.position.column)
    } else {
      return false
    }
    const rev = typeof m.rev === 'number' ? m.rev : local.rev
    // Bring the position from the sender's revision to ours, then over our pending ops.
    for (const r of this.recentOps) {
      if (r.rev > rev && r.rev <= local.rev) {
        anchor = textType.transformPosition(anchor, r.op)
        head = textType.transformPosition(head, r.op)
      }
    }
    for (const op of local.pendingOps) {
      anchor = textType.transformPosition(anchor, op)
      head = textType.transformPosition(head, op)
    }
    const max = codePointLength(local.text)
    this.byConn.set(key, {
      conn_id: key,
      user_id: m.user_id,
      username: m.username ?? `user ${m.user_id}`,
      color: m.color ?? '#61afef',
      anchor: Math.min(Math.max(0, anchor), max),
      head: Math.min(Math.max(0, head), max),
    })
    return true
  }
}

/** lineColumnToCodePoint maps a 1-based Monaco-style line/column (UTF-16 columns) to a code point offset. */
export function lineColumnToCodePoint(text: string, lineNumber: number, column: number): number {
  let offset = 0
  for (let line = 1; line < lineNumber; line++) {
    const nl = text.indexOf('\n', offset)
    if (nl < 0) return codePointLength(text)
    offset = nl + 1
  }
  const lineEnd = text.indexOf('\n', offset)
  const end = lineEnd < 0 ? text.length : lineEnd
  let at = Math.min(offset + Math.max(0, column - 1), end)
  // Never split a surrogate pair.
  const c = text.charCodeAt(at - 1)
  if (at > 0 && c >= 0xd800 && c <= 0xdbff) at--
  return codePointLength(text.slice(0, at))
}
