import { describe, expect, it } from 'vitest'
import { transformRange } from './range'
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
