// Test helpers shared by the collab unit tests: a seeded PRNG, random ops and
// an in-process authority that behaves as docs/protocol.md describes.

import type { TextOp } from './textOp'
import { textType } from './textOp'

/** mulberry32: a small deterministic PRNG so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = ['a', 'b', 'c', 'x', 'y', ' ', '\n', 'é', '中', '😀', '👩‍💻']

export function randomText(rand: () => number, maxChars: number): string {
  const n = Math.floor(rand() * (maxChars + 1))
  let s = ''
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]
  return s
}

/** randomOp makes an op valid for text: one insert, one delete, or a replace. */
export function randomOp(rand: () => number, text: string): TextOp {
  const len = Array.from(text).length
  const pos = Math.floor(rand() * (len + 1))
  const kind = rand()
  const op: TextOp = []
  if (pos > 0) op.push(pos)
  if (kind < 0.5 || len === pos) {
    op.push(randomText(rand, 3) || 'z')
  } else {
    const del = 1 + Math.floor(rand() * Math.min(4, len - pos))
    op.push({ d: del })
    if (kind > 0.8) op.push(randomText(rand, 2) || 'q')
  }
  return textType.normalize(op)
}

export interface Committed {
  rev: number
  op: TextOp
  id: string
}

/** Authority is the server's transform-and-commit core, in memory. */
export class Authority {
  text: string
  log: Committed[] = []
  private readonly revOfId = new Map<string, number>()

  constructor(text = '') {
    this.text = text
  }

  get rev(): number {
    return this.log.length
  }

  /** receive commits op based on rev; a known id returns its original revision and no new op. */
  receive(rev: number, op: TextOp, id: string): { rev: number; committed: Committed | null } {
    const known = this.revOfId.get(id)
    if (known !== undefined) return { rev: known, committed: null }
    if (rev < 0 || rev > this.rev) throw new Error(`bad revision ${rev}`)
    let t = op
    for (const c of this.log.slice(rev)) t = textType.transform(t, c.op, 'left')
    this.text = textType.apply(this.text, t)
    const committed = { rev: this.rev + 1, op: t, id }
    this.log.push(committed)
    this.revOfId.set(id, committed.rev)
    return { rev: committed.rev, committed }
  }

  since(rev: number): Committed[] {
    return this.log.slice(rev)
  }
}
