// Splitting a large local edit into ops that each fit the server's limits
// (docs/protocol.md): one WebSocket message is at most MAX_MESSAGE_BYTES and
// one op inserts at most MAX_OP_BYTES (1 MiB by default). A 1.2 MB paste is
// sent as consecutive ops of at most OP_PIECE_BYTES each, applied in order.

import { MAX_MESSAGE_BYTES, MAX_OP_BYTES } from '../protocol'
import type { TextOp } from './textOp'
import { textType } from './textOp'

/**
 * OP_PIECE_BYTES bounds what one op sent by this client carries: its text
 * (inserted and deleted strings) measured as its JSON encoding in UTF-8
 * bytes, plus a small cost per component. A quarter of MAX_MESSAGE_BYTES
 * (and of the default MAX_OP_BYTES) leaves room for the envelope and for a
 * smaller MAX_OP_BYTES setting.
 */
export const OP_PIECE_BYTES = Math.min(MAX_MESSAGE_BYTES, MAX_OP_BYTES) / 4

/** What each op component costs beyond its text (the number, braces, commas). */
const COMPONENT_COST = 16

/** jsonCharBytes is what one code point costs inside a JSON string, in UTF-8 bytes. */
function jsonCharBytes(cp: number): number {
  if (cp === 0x22 || cp === 0x5c) return 2 // \" \\
  if (cp < 0x20) return cp === 0x08 || cp === 0x09 || cp === 0x0a || cp === 0x0c || cp === 0x0d ? 2 : 6
  if (cp < 0x80) return 1
  if (cp < 0x800) return 2
  if (cp >= 0xd800 && cp <= 0xdfff) return 6 // a lone surrogate is escaped
  if (cp < 0x10000) return 3
  return 4
}

/** jsonStringBytes is the size of s encoded as a JSON string, quotes included. */
export function jsonStringBytes(s: string): number {
  let n = 2
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
        continue
      }
    }
    n += jsonCharBytes(c)
  }
  return n
}

/** utf8Bytes is the UTF-8 size of s (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Bytes(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** opCost is what op weighs against OP_PIECE_BYTES. */
export function opCost(op: TextOp): number {
  let n = 2
  for (const c of op) {
    n += COMPONENT_COST
    if (typeof c === 'string') n += jsonStringBytes(c)
    else if (typeof c === 'object' && typeof c.d === 'string') n += jsonStringBytes(c.d)
  }
  return n
}

/** insertedBytes is the UTF-8 size of the text op inserts. */
export function insertedBytes(op: TextOp): number {
  let n = 0
  for (const c of op) if (typeof c === 'string') n += utf8Bytes(c)
  return n
}

/**
 * takePrefix cuts s after as many whole code points as fit in budget bytes
 * (JSON-encoded, quotes excluded), never between the halves of a surrogate
 * pair, and at least one code point so that progress is always made.
 */
function takePrefix(s: string, budget: number): [string, string] {
  let n = 0
  let i = 0
  while (i < s.length) {
    const c = s.charCodeAt(i)
    let width = 1
    let cost: number
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      width = 2
      cost = 4
    } else cost = jsonCharBytes(c)
    if (n + cost > budget && i > 0) break
    n += cost
    i += width
  }
  return [s.slice(0, i), s.slice(i)]
}

function codePoints(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++
    n++
  }
  return n
}

/**
 * splitOp returns ops that, applied one after another, do what op does, each
 * costing at most budget (opCost). An op that already fits comes back alone.
 * Every piece keeps the part of the document before its changes as a retain
 * and leaves the rest implicit, so a piece is valid on the text the pieces
 * before it produced.
 */
export function splitOp(op: TextOp, budget: number = OP_PIECE_BYTES): TextOp[] {
  if (opCost(op) <= budget) return [op]
  const room = budget - 2 - 2 * COMPONENT_COST - 2 // the leading retain, one text component and its quotes
  if (room < 8) throw new RangeError(`op budget ${budget} is too small`)
  const pieces: TextOp[] = []
  let piece: TextOp = []
  let cost = 2 + COMPONENT_COST // with its leading retain
  let out = 0 // where the original op has got to in the text the pieces produce
  let pieceStart = 0 // out when the current piece began
  const flush = () => {
    const p = textType.normalize(pieceStart > 0 ? [pieceStart, ...piece] : piece)
    if (p.length > 0) pieces.push(p)
    piece = []
    cost = 2 + COMPONENT_COST
    pieceStart = out
  }
  const push = (c: TextOp[number], cpOut: number, textCost: number) => {
    if (cost + COMPONENT_COST + textCost > budget - 2 && piece.length > 0) flush()
    piece.push(c)
    cost += COMPONENT_COST + textCost
    out += cpOut
  }
  for (const c of op) {
    if (typeof c === 'number') {
      push(c, c, 0)
    } else if (typeof c === 'string') {
      let rest = c
      while (rest.length > 0) {
        const avail = budget - 2 - cost - COMPONENT_COST - 2
        if (avail < 8 && piece.length > 0) {
          flush()
          continue
        }
        const [head, tail] = takePrefix(rest, Math.max(avail, 1))
        push(head, codePoints(head), jsonStringBytes(head))
        rest = tail
        if (rest.length > 0) flush()
      }
    } else if (typeof c.d === 'number') {
      push(c, 0, 0)
    } else {
      let rest = c.d
      while (rest.length > 0) {
        const avail = budget - 2 - cost - COMPONENT_COST - 2
        if (avail < 8 && piece.length > 0) {
          flush()
          continue
        }
        const [head, tail] = takePrefix(rest, Math.max(avail, 1))
        push({ d: head }, 0, jsonStringBytes(head))
        rest = tail
        if (rest.length > 0) flush()
      }
    }
  }
  flush()
  return pieces
}
