import { describe, expect, it } from 'vitest'
import { transformRange } from './range'
import { prng, randomOp } from './testkit'
import { textType, type TextOp } from './textOp'

// The same cases as internal/ot/anchor_test.go's TestTransformRangeEdges.
describe('transformRange', () => {
  const r = { from: 2, to: 5 } // "cde" of "abcdefg"
  const cases: [string, TextOp, { from: number; to: number; detached?: boolean }][] = [
    ['typing at the start stays outside', [2, 'XY'], { from: 4, to: 7 }],
    ['typing at the end stays outside', [5, 'XY'], { from: 2, to: 5 }],
    ['typing inside grows it', [3, 'XY'], { from: 2, to: 7 }],
    ['deleting its start shrinks it', [1, { d: 2 }], { from: 1, to: 3 }],
    ['deleting it whole detaches', [1, { d: 5 }], { from: 1, to: 1, detached: true }],
    ['replacing it (delete, insert) detaches', [2, { d: 3 }, 'new'], { from: 2, to: 2, detached: true }],
    ['replacing it (insert, delete) detaches', [2, 'new', { d: 3 }], { from: 2, to: 2, detached: true }],
    ['an edit after it leaves it', [6, { d: 1 }], { from: 2, to: 5 }],
    ['an emoji before it counts once', ['😀'], { from: 3, to: 6 }],
  ]
  for (const [name, op, want] of cases) {
    it(name, () => {
      textType.apply('abcdefg', op) // the op fits the text
      expect(transformRange(r, op)).toEqual(want)
    })
  }
  it('keeps a detached range detached, moving as a point', () => {
    expect(transformRange({ from: 3, to: 3, detached: true }, ['ab'])).toEqual({ from: 5, to: 5, detached: true })
  })
})

// The property the server's TestPropertyTransformRangeFollowsText checks,
// on random edits of a text whose code points are all distinct: the moved
// range spans exactly the range's surviving code points (inserts between
// them included), or is detached at transformPosition(from) when none
// survives.
describe('transformRange property', () => {
  it('follows the surviving text of the range', () => {
    const rand = prng(20261201)
    let detached = 0
    for (let i = 0; i < 3000; i++) {
      const n = 1 + Math.floor(rand() * 30)
      const orig = Array.from({ length: n }, (_, k) => String.fromCodePoint(0xe000 + k))
      const from = Math.floor(rand() * n)
      const to = from + 1 + Math.floor(rand() * Math.min(n - from, 6))
      const op = randomOp(rand, orig.join(''))
      const after = Array.from(textType.apply(orig.join(''), op))
      const got = transformRange({ from, to }, op)
      const survivors = orig.slice(from, to).filter((c) => after.includes(c))
      if (survivors.length === 0) {
        detached++
        const p = textType.transformPosition(from, op)
        expect(got).toEqual({ from: p, to: p, detached: true })
        continue
      }
      const inside = after.slice(got.from, got.to)
      expect(inside.filter((c) => c.codePointAt(0)! >= 0xe000 && c.codePointAt(0)! < 0xf000)).toEqual(survivors)
      expect(inside[0]).toBe(survivors[0])
      expect(inside[inside.length - 1]).toBe(survivors[survivors.length - 1])
    }
    expect(detached).toBeGreaterThan(0)
  })
})
