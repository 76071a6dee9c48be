import { describe, expect, it } from 'vitest'
import { MAX_MESSAGE_BYTES, MAX_OP_BYTES } from '../protocol'
import { findLoneSurrogate } from './offsets'
import { OP_PIECE_BYTES, insertedBytes, jsonStringBytes, opCost, splitOp, utf8Bytes } from './splitOp'
import { prng } from './testkit'
import type { TextOp } from './textOp'
import { textType } from './textOp'

const applyAll = (text: string, ops: TextOp[]) => ops.reduce((t, op) => textType.apply(t, op), text)

/** Every string an op carries (inserted or deleted). */
const strings = (op: TextOp) =>
  op.flatMap((c) => (typeof c === 'string' ? [c] : typeof c === 'object' && typeof c.d === 'string' ? [c.d] : []))

// A pasted text with every kind of character the cost must count: ASCII,
// escapes, control characters, 2-, 3- and 4-byte UTF-8 (surrogate pairs).
function pasteText(rand: () => number, units: number): string {
  const alphabet = ['a', 'Z', ' ', '\n', '\t', '"', '\\', '\u0001', 'é', '中', '😀', '👩‍💻']
  let s = ''
  while (s.length < units) s += alphabet[Math.floor(rand() * alphabet.length)]
  return s
}

function checkPieces(before: string, op: TextOp, budget: number): TextOp[] {
  const pieces = splitOp(op, budget)
  for (const p of pieces) {
    expect(opCost(p)).toBeLessThanOrEqual(budget)
    expect(p.length).toBeGreaterThan(0)
    for (const s of strings(p)) expect(findLoneSurrogate(s)).toBe(-1)
  }
  expect(applyAll(before, pieces)).toBe(textType.apply(before, op))
  return pieces
}

describe('splitOp', () => {
  it('leaves an op that fits alone', () => {
    const op: TextOp = [3, 'abc', { d: 2 }]
    expect(splitOp(op)).toEqual([op])
  })

  it('sends a 1.2 MB paste as pieces that each fit the server limits', () => {
    const text = pasteText(prng(1), 1_200_000)
    const before = 'header\nfooter\n'
    const op: TextOp = [7, text]
    const pieces = checkPieces(before, op, OP_PIECE_BYTES)
    expect(pieces.length).toBeGreaterThan(1)
    for (const p of pieces) {
      expect(insertedBytes(p)).toBeLessThanOrEqual(MAX_OP_BYTES)
      const frame = JSON.stringify({ type: 'op', rev: 123456, op: p, id: `${'c'.repeat(18)}:99999` })
      expect(utf8Bytes(frame)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
      expect(utf8Bytes(frame)).toBeLessThanOrEqual(OP_PIECE_BYTES + 200)
    }
    // Composed in order, the pieces are the original edit.
    expect(pieces.reduce((a, b) => textType.compose(a, b))).toEqual(textType.normalize(op))
    expect(insertedBytes(op)).toBe(pieces.reduce((n, p) => n + insertedBytes(p), 0))
  })

  it('never splits a surrogate pair, whatever the budget', () => {
    const text = '😀'.repeat(50) + 'x' + '👩‍💻'.repeat(20)
    for (let budget = 60; budget < 140; budget++) checkPieces('', [text], budget)
  })

  it('splits replaces, deletes with text and many components, applied in order', () => {
    const rand = prng(7)
    for (let round = 0; round < 200; round++) {
      const before = pasteText(rand, 50 + Math.floor(rand() * 400))
      const chars = Array.from(before)
      const op: TextOp = []
      let at = 0
      while (at < chars.length) {
        const r = rand()
        const n = 1 + Math.floor(rand() * Math.min(40, chars.length - at))
        if (r < 0.3) op.push(n)
        else if (r < 0.5) op.push({ d: n })
        else if (r < 0.7) op.push({ d: chars.slice(at, at + n).join('') })
        else {
          op.push(pasteText(rand, 1 + Math.floor(rand() * 200)))
          continue
        }
        at += n
      }
      checkPieces(before, textType.normalize(op), 60 + Math.floor(rand() * 300))
    }
  })

  it('measures text as its JSON encoding in UTF-8', () => {
    for (const s of ['', 'abc', '"\\', '\n\t\u0001', 'é中😀', '\ud800x']) {
      expect(jsonStringBytes(s)).toBe(new TextEncoder().encode(JSON.stringify(s)).length)
    }
    expect(utf8Bytes('aé中😀')).toBe(new TextEncoder().encode('aé中😀').length)
  })
})
