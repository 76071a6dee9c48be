// UTF-16 <-> code point offsets. The server counts Unicode code points; the
// browser and Monaco count UTF-16 units. Conversion happens only here.

/** hasSurrogates reports whether s holds any UTF-16 surrogate unit. */
export function hasSurrogates(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdfff) return true
  }
  return false
}

/** findLoneSurrogate returns the UTF-16 index of the first unpaired surrogate, or -1. */
export function findLoneSurrogate(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    return i
  }
  return -1
}

/** assertWellFormed throws when s holds a lone surrogate (the server refuses such text). */
export function assertWellFormed(s: string): void {
  const at = findLoneSurrogate(s)
  if (at >= 0) throw new Error(`text holds a lone surrogate at UTF-16 offset ${at}`)
}

/** codePointLength counts the code points of a well-formed string. */
export function codePointLength(s: string): number {
  return utf16ToCodePoint(s, s.length)
}

/**
 * utf16ToCodePoint converts a UTF-16 offset into s to a code point offset.
 * It throws when the offset splits a surrogate pair or lies outside s.
 */
export function utf16ToCodePoint(s: string, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset > s.length) {
    throw new RangeError(`UTF-16 offset ${offset} outside text of length ${s.length}`)
  }
  let pairs = 0
  for (let i = 0; i < offset; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      if (i + 1 >= offset) throw new RangeError(`UTF-16 offset ${offset} splits a surrogate pair`)
      pairs++
      i++
    }
  }
  return offset - pairs
}

/**
 * codePointToUtf16 converts a code point offset into s to a UTF-16 offset.
 * It throws when the offset lies outside s.
 */
export function codePointToUtf16(s: string, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`code point offset ${offset} is not a non-negative integer`)
  }
  let pos = 0
  for (let n = 0; n < offset; n++) {
    if (pos >= s.length) throw new RangeError(`code point offset ${offset} outside text`)
    const c = s.charCodeAt(pos)
    pos += c >= 0xd800 && c <= 0xdbff ? 2 : 1
  }
  return pos
}

/**
 * OffsetMap converts many offsets of one text, taking the fast path (identity)
 * when the text holds no surrogates, which is the common case for code.
 */
export class OffsetMap {
  readonly text: string
  private readonly plain: boolean

  constructor(text: string) {
    this.text = text
    this.plain = !hasSurrogates(text)
  }

  toCodePoint(utf16: number): number {
    if (this.plain) {
      if (!Number.isInteger(utf16) || utf16 < 0 || utf16 > this.text.length) {
        throw new RangeError(`UTF-16 offset ${utf16} outside text of length ${this.text.length}`)
      }
      return utf16
    }
    return utf16ToCodePoint(this.text, utf16)
  }

  toUtf16(codePoint: number): number {
    if (this.plain) {
      if (!Number.isInteger(codePoint) || codePoint < 0 || codePoint > this.text.length) {
        throw new RangeError(`code point offset ${codePoint} outside text`)
      }
      return codePoint
    }
    return codePointToUtf16(this.text, codePoint)
  }
}
