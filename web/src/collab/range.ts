// A range of code points that follows the text it covers through ops: the
// anchor of a comment or a chat link. The same rule as the server's
// ot.TransformRange (internal/ot/anchor.go): the range covers the code
// points that were in it and still exist, and whatever is inserted between
// them; text typed at either edge stays outside; when all of it is deleted
// it is detached for good, at the point transformPosition gives its start.

import type { TextOp } from './textOp'
import { textType } from './textOp'
import { codePointLength } from './offsets'

export interface TextRange {
  from: number
  to: number
  detached?: boolean
}

export function transformRange(r: TextRange, op: TextOp): TextRange {
  if (r.detached || r.from >= r.to) {
    const p = textType.transformPosition(r.from, op)
    return { from: p, to: p, detached: r.detached }
  }
  let first = -1
  let last = -1
  let oldPos = 0
  let newPos = 0
  const survive = (lo: number, hi: number) => {
    lo = Math.max(lo, r.from)
    hi = Math.min(hi, r.to)
    if (lo >= hi) return
    if (first < 0) first = newPos + lo - oldPos
    last = newPos + hi - oldPos
  }
  for (const c of op) {
    if (oldPos >= r.to) break
    if (typeof c === 'number') {
      survive(oldPos, oldPos + c)
      oldPos += c
      newPos += c
    } else if (typeof c === 'string') {
      newPos += codePointLength(c)
    } else {
      oldPos += typeof c.d === 'number' ? c.d : codePointLength(c.d)
    }
  }
  survive(oldPos, r.to)
  if (first < 0) {
    const p = textType.transformPosition(r.from, op)
    return { from: p, to: p, detached: true }
  }
  return { from: first, to: last }
}
