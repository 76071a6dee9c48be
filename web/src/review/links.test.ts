import { describe, expect, it } from 'vitest'
import { lineLink, lineRange, linesOf, parseChat, stampLinks } from './links'

const text = 'one\ntwo 😀\nthree\n'

describe('chat links', () => {
  it('finds L12 and L12-L20, stamped or not, and leaves other text', () => {
    expect(parseChat('see L2 and L1-L3@7:0-13, not HTML5 or L0')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'L2', link: { startLine: 2, endLine: 2 } },
      { kind: 'text', text: ' and ' },
      { kind: 'link', text: 'L1-L3', link: { startLine: 1, endLine: 3, at: { rev: 7, from: 0, to: 13 } } },
      { kind: 'text', text: ', not HTML5 or L0' },
    ])
  })
  it('stamps links with the revision and code points of their lines', () => {
    expect(stampLinks('look at L2-L3 and L2, L9 stays', text, 4)).toBe('look at L2-L3@4:4-15 and L2@4:4-9, L9 stays')
    expect(stampLinks('already L1@3:0-3', text, 4)).toBe('already L1@3:0-3')
  })
  it('converts between lines and code points', () => {
    expect(lineRange(text, 2, 2)).toEqual({ from: 4, to: 9 })
    expect(lineRange(text, 1, 4)).toEqual({ from: 0, to: 16 })
    expect(lineRange(text, 5, 5)).toBeNull()
    expect(linesOf(text, 4, 9)).toEqual({ startLine: 2, endLine: 2 })
    expect(linesOf(text, 2, 12)).toEqual({ startLine: 1, endLine: 3 })
    expect(lineLink(text, 10, 15)).toBe('L3')
  })
})
