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
  let at = 0 // UTF-16 index into textBefore
  // advance moves at over n code points and returns where it started.
  const advance = (n: number): number => {
    const start = at
    for (let i = 0; i < n; i++) {
      const c = textBefore.charCodeAt(at)
      at += c >= 0xd800 && c <= 0xdbff ? 2 : 1
    }
    if (at > textBefore.length) throw new RangeError('op is longer than the text')
    return start
  }
  for (const c of op) {
    if (typeof c === 'number') {
      out.push(c)
      advance(c)
    } else if (typeof c === 'string') {
      out.push({ d: codePointLength(c) })
    } else {
      const n = typeof c.d === 'number' ? c.d : codePointLength(c.d)
      const start = advance(n)
      out.push(textBefore.slice(start, at))
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
