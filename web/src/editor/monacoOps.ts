// Conversions between Monaco's model changes (UTF-16 offsets) and text-unicode
// ops (code points). Pure: the Monaco binding feeds it plain objects.

import { OffsetMap, assertWellFormed } from '../collab/offsets'
import type { TextOp } from '../collab/textOp'
import { textType } from '../collab/textOp'

/**
 * ModelChange is the part of Monaco's IModelContentChange we need: a replaced
 * UTF-16 range of the text as it was before the whole event.
 */
export interface ModelChange {
  rangeOffset: number
  rangeLength: number
  text: string
}

/** TextEdit replaces a UTF-16 range of the text before the op; all edits of one op share that base. */
export interface TextEdit {
  offset: number
  length: number
  text: string
}

/**
 * changesToOp turns the changes of one content event (one or many cursors,
 * in any order, offsets relative to before) into a single op against before.
 * It throws on overlapping changes, offsets outside before, a range that
 * splits a surrogate pair, or inserted text with a lone surrogate.
 */
export function changesToOp(before: string, changes: readonly ModelChange[]): TextOp {
  const map = new OffsetMap(before)
  const sorted = [...changes].sort((a, b) => a.rangeOffset - b.rangeOffset)
  const op: TextOp = []
  let cursor = 0 // code points consumed from before
  let lastEnd = 0 // UTF-16
  for (const ch of sorted) {
    if (ch.rangeOffset < lastEnd) throw new RangeError('overlapping changes in one event')
    assertWellFormed(ch.text)
    const start = map.toCodePoint(ch.rangeOffset)
    const end = map.toCodePoint(ch.rangeOffset + ch.rangeLength)
    if (start > cursor) op.push(start - cursor)
    if (end > start) op.push({ d: end - start })
    if (ch.text.length > 0) op.push(ch.text)
    cursor = end
    lastEnd = ch.rangeOffset + ch.rangeLength
  }
  return textType.normalize(op)
}

/** opToEdits turns an op against before into UTF-16 edits of before, ascending, non-overlapping. */
export function opToEdits(before: string, op: TextOp): TextEdit[] {
  const map = new OffsetMap(before)
  const edits: TextEdit[] = []
  let pos = 0 // code points into before
  const at = (cp: number) => map.toUtf16(cp)
  for (const c of op) {
    if (typeof c === 'number') {
      pos += c
      continue
    }
    const last = edits[edits.length - 1]
    const offset = at(pos)
    const merge = last !== undefined && last.offset + last.length === offset
    if (typeof c === 'string') {
      if (merge) last.text += c
      else edits.push({ offset, length: 0, text: c })
      continue
    }
    const n = typeof c.d === 'number' ? c.d : Array.from(c.d).length
    const end = at(pos + n)
    if (merge) last.length += end - offset
    else edits.push({ offset, length: end - offset, text: '' })
    pos += n
  }
  if (pos > Array.from(before).length) throw new RangeError('op is longer than the text')
  return edits
}

/**
 * transformOffset moves a UTF-16 offset of before to where it belongs in
 * after = apply(before, op). A remote insert exactly at the offset lands
 * after it: the caret stays in front of text someone else typed.
 */
export function transformOffset(before: string, after: string, op: TextOp, offset: number): number {
  const cp = new OffsetMap(before).toCodePoint(offset)
  return new OffsetMap(after).toUtf16(textType.transformPosition(cp, op))
}

/** normalizeEol turns CRLF and lone CR into LF: the web client keeps LF only. */
export function normalizeEol(s: string): string {
  return s.indexOf('\r') < 0 ? s : s.replace(/\r\n?/g, '\n')
}
