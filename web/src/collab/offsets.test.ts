import { describe, expect, it } from 'vitest'
import {
  OffsetMap,
  assertWellFormed,
  codePointLength,
  codePointToUtf16,
  findLoneSurrogate,
  utf16ToCodePoint,
} from './offsets'

describe('offsets', () => {
  it('is the identity for ASCII and CJK (no surrogates)', () => {
    const s = 'let 名前 = "東京"'
    const m = new OffsetMap(s)
    for (let i = 0; i <= s.length; i++) {
      expect(m.toCodePoint(i)).toBe(i)
      expect(m.toUtf16(i)).toBe(i)
    }
    expect(codePointLength(s)).toBe(s.length)
  })

  it('counts an emoji as one code point and two UTF-16 units', () => {
    const s = 'a😀b'
    expect(s.length).toBe(4)
    expect(codePointLength(s)).toBe(3)
    expect(utf16ToCodePoint(s, 3)).toBe(2)
    expect(codePointToUtf16(s, 2)).toBe(3)
    expect(new OffsetMap(s).toUtf16(3)).toBe(4)
  })

  it('counts a ZWJ sequence as its code points', () => {
    const dev = '👩‍💻' // woman, ZWJ, laptop
    expect(codePointLength(dev)).toBe(3)
    const s = `x${dev}y`
    const m = new OffsetMap(s)
    expect(m.toCodePoint(s.length)).toBe(5)
    expect(m.toUtf16(4)).toBe(s.length - 1)
    // Round trip at every code point boundary.
    for (let cp = 0; cp <= 5; cp++) expect(m.toCodePoint(m.toUtf16(cp))).toBe(cp)
  })

  it('refuses an offset that splits a surrogate pair or leaves the text', () => {
    expect(() => utf16ToCodePoint('😀', 1)).toThrow(/splits a surrogate pair/)
    expect(() => utf16ToCodePoint('ab', 3)).toThrow(RangeError)
    expect(() => codePointToUtf16('ab', 3)).toThrow(RangeError)
    expect(() => new OffsetMap('ab').toUtf16(-1)).toThrow(RangeError)
  })

  it('finds lone surrogates and rejects them', () => {
    expect(findLoneSurrogate('ok 😀')).toBe(-1)
    expect(findLoneSurrogate('a\uD83D')).toBe(1)
    expect(findLoneSurrogate('\uDE00b')).toBe(0)
    expect(findLoneSurrogate('\uD83D\uD83D\uDE00')).toBe(0)
    expect(() => assertWellFormed('x\uD83Dy')).toThrow(/lone surrogate at UTF-16 offset 1/)
    expect(() => assertWellFormed('x😀y')).not.toThrow()
  })
})
