import { describe, expect, it } from 'vitest'
import type { ModelChange, TextEdit } from './monacoOps'
import { changesToOp, normalizeEol, opToEdits, transformOffset } from './monacoOps'
import { textType } from '../collab/textOp'
import { prng, randomOp, randomText } from '../collab/testkit'

/** applyChanges applies changes the way Monaco does: all relative to the text before the event. */
function applyEdits(text: string, edits: readonly (ModelChange | TextEdit)[]): string {
  const norm = edits.map((e) => ('rangeOffset' in e ? { offset: e.rangeOffset, length: e.rangeLength, text: e.text } : e))
  const desc = [...norm].sort((a, b) => b.offset - a.offset)
  let out = text
  for (const e of desc) out = out.slice(0, e.offset) + e.text + out.slice(e.offset + e.length)
  return out
}

describe('changesToOp', () => {
  it('turns one typed character into an insert', () => {
    expect(changesToOp('abc', [{ rangeOffset: 1, rangeLength: 0, text: 'X' }])).toEqual([1, 'X'])
  })

  it('makes one op of a multi-cursor event (changes in descending order)', () => {
    const before = 'foo\nfoo\nfoo'
    const changes: ModelChange[] = [
      { rangeOffset: 8, rangeLength: 3, text: 'bar' },
      { rangeOffset: 4, rangeLength: 3, text: 'bar' },
      { rangeOffset: 0, rangeLength: 3, text: 'bar' },
    ]
    const op = changesToOp(before, changes)
    expect(textType.apply(before, op)).toBe('bar\nbar\nbar')
    expect(op).toEqual([{ d: 3 }, 'bar', 1, { d: 3 }, 'bar', 1, { d: 3 }, 'bar'])
  })

  it('handles paste over a selection', () => {
    const op = changesToOp('hello world', [{ rangeOffset: 6, rangeLength: 5, text: 'there, friend' }])
    expect(textType.apply('hello world', op)).toBe('hello there, friend')
  })

  it('counts code points after an emoji', () => {
    const before = '😀😀x'
    const op = changesToOp(before, [{ rangeOffset: 4, rangeLength: 1, text: '中' }])
    expect(op).toEqual([2, { d: 1 }, '中'])
    expect(textType.apply(before, op)).toBe('😀😀中')
  })

  it('refuses a change that splits a surrogate pair or inserts a lone one', () => {
    expect(() => changesToOp('😀', [{ rangeOffset: 1, rangeLength: 1, text: '' }])).toThrow()
    expect(() => changesToOp('a', [{ rangeOffset: 1, rangeLength: 0, text: '\uD83D' }])).toThrow(/lone surrogate/)
    expect(() =>
      changesToOp('abcdef', [
        { rangeOffset: 0, rangeLength: 3, text: '' },
        { rangeOffset: 2, rangeLength: 1, text: '' },
      ]),
    ).toThrow(/overlapping/)
  })

  it('matches Monaco semantics on random multi-cursor events', () => {
    const rand = prng(7)
    for (let run = 0; run < 2000; run++) {
      const before = randomText(rand, 20)
      // Random non-overlapping ranges at code point boundaries.
      const bounds = [0]
      for (const ch of Array.from(before)) bounds.push(bounds[bounds.length - 1] + ch.length)
      const picks = bounds.filter(() => rand() < 0.3).sort((a, b) => a - b)
      const changes: ModelChange[] = []
      for (let i = 0; i + 1 < picks.length; i += 2) {
        changes.push({ rangeOffset: picks[i], rangeLength: picks[i + 1] - picks[i], text: randomText(rand, 3) })
      }
      changes.reverse()
      const op = changesToOp(before, changes)
      expect(textType.apply(before, op)).toBe(applyEdits(before, changes))
    }
  })
})

describe('opToEdits', () => {
  it('round-trips random ops into Monaco edits', () => {
    const rand = prng(11)
    for (let run = 0; run < 2000; run++) {
      const before = randomText(rand, 15)
      let op = randomOp(rand, before)
      op = textType.compose(op, randomOp(rand, textType.apply(before, op)))
      expect(applyEdits(before, opToEdits(before, op))).toBe(textType.apply(before, op))
    }
  })

  it('merges a delete and insert at one place into one replace', () => {
    expect(opToEdits('a😀c', [1, { d: 1 }, 'B'])).toEqual([{ offset: 1, length: 2, text: 'B' }])
  })
})

describe('transformOffset', () => {
  it('keeps a caret on its character through a remote insert before it', () => {
    const before = 'ab😀cd'
    const caret = 4 // before "c"
    const op = [1, 'ZZ']
    const after = textType.apply(before, op)
    expect(after.slice(transformOffset(before, after, op, caret))).toBe('cd')
  })

  it('leaves the caret in front of a remote insert at the caret', () => {
    const op = [2, 'XY']
    expect(transformOffset('abcd', 'abXYcd', op, 2)).toBe(2)
  })
})

describe('normalizeEol', () => {
  it('turns pasted CRLF and lone CR into LF', () => {
    expect(normalizeEol('a\r\nb\rc\n')).toBe('a\nb\nc\n')
    const op = changesToOp('', [{ rangeOffset: 0, rangeLength: 0, text: normalizeEol('x\r\ny') }])
    expect(op).toEqual(['x\ny'])
  })
})
