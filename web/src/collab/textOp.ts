// Helpers around the text-unicode OT type (ot-text-unicode), the op format the
// server speaks. Positions count code points.

import { type } from 'ot-text-unicode'
import type { TextOp } from 'ot-text-unicode'
import { codePointLength } from './offsets'

export type { TextOp }
export const textType = type

/** isNoop reports whether op changes nothing. */
export function isNoop(op: TextOp): boolean {
  return op.length === 0
}

/**
 * invert returns the op that undoes op, given the text op was applied to.
 * Deletes in the result are counts, so it composes and transforms freely.
 */
export function invert(op: TextOp, textBefore: string): TextOp {
  const out: TextOp = []
  const chars = Array.from(textBefore)
  let pos = 0
  for (const c of op) {
    if (typeof c === 'number') {
      out.push(c)
      pos += c
    } else if (typeof c === 'string') {
      out.push({ d: codePointLength(c) })
    } else {
      const n = typeof c.d === 'number' ? c.d : codePointLength(c.d)
      out.push(chars.slice(pos, pos + n).join(''))
      pos += n
    }
  }
  return type.normalize(out)
}

/**
 * diffOp returns a minimal-ish op turning before into after: one replaced
 * span between the common prefix and suffix. Used to heal a desync.
 */
export function diffOp(before: string, after: string): TextOp {
  const a = Array.from(before)
  const b = Array.from(after)
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  const op: TextOp = []
  if (start > 0) op.push(start)
  if (endA > start) op.push({ d: endA - start })
  if (endB > start) op.push(b.slice(start, endB).join(''))
  return type.normalize(op)
}
