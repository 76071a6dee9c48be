// Chat links to code: `L12` or `L12-L20` in a chat message points at those
// lines. Sent from this client, a link is stamped with where the lines were
// (`L12-L20@42:310-522`: revision 42, code points 310 to 522), so that a
// reader moves it through the edits since and it still points at the same
// code. The chat stays plain text: links are found by the client.

import { codePointLength } from '../collab/offsets'

export interface LineLink {
  startLine: number
  endLine: number
  /** Where the lines were when the link was written (stamped links only). */
  at?: { rev: number; from: number; to: number }
}

export type ChatPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; link: LineLink }

const LINK = /\bL([1-9]\d{0,6})(?:-L?([1-9]\d{0,6}))?(?:@(\d{1,12}):(\d{1,12})-(\d{1,12}))?\b/g

/** parseChat splits a chat message into text and line links. */
export function parseChat(message: string): ChatPart[] {
  const parts: ChatPart[] = []
  let last = 0
  for (const m of message.matchAll(LINK)) {
    const start = Number(m[1])
    const end = m[2] ? Number(m[2]) : start
    if (end < start) continue
    if (m.index > last) parts.push({ kind: 'text', text: message.slice(last, m.index) })
    const link: LineLink = { startLine: start, endLine: end }
    if (m[3] !== undefined) {
      const from = Number(m[4])
      const to = Number(m[5])
      if (to >= from) link.at = { rev: Number(m[3]), from, to }
    }
    parts.push({ kind: 'link', text: start === end ? `L${start}` : `L${start}-L${end}`, link })
    last = m.index + m[0].length
  }
  if (last < message.length) parts.push({ kind: 'text', text: message.slice(last) })
  return parts
}

/**
 * stampLinks adds the revision and code point range to every link of draft
 * that has none, taking the lines from text (the server's text at rev).
 * Links to lines past the end are left as written.
 */
export function stampLinks(draft: string, text: string, rev: number): string {
  return draft.replace(LINK, (whole, a: string, b: string | undefined, stampedRev: string | undefined) => {
    if (stampedRev !== undefined) return whole
    const start = Number(a)
    const end = b ? Number(b) : start
    const r = lineRange(text, start, end)
    if (!r || end < start) return whole
    return `${start === end ? `L${start}` : `L${start}-L${end}`}@${rev}:${r.from}-${r.to}`
  })
}

/** lineLink writes the link to the lines a code point range of text covers. */
export function lineLink(text: string, from: number, to: number): string {
  const { startLine, endLine } = linesOf(text, from, to)
  return startLine === endLine ? `L${startLine}` : `L${startLine}-L${endLine}`
}

/**
 * lineRange is the code point range of lines start..end (1-based) of text,
 * without the last line's newline; null when start is past the last line.
 */
export function lineRange(text: string, start: number, end: number): { from: number; to: number } | null {
  let line = 1
  let from = -1
  let cp = 0
  if (start === 1) from = 0
  for (const ch of text) {
    if (ch === '\n') {
      if (line === end) return { from, to: cp }
      line++
      if (line === start) from = cp + 1
    }
    cp++
  }
  if (from < 0) return null
  return { from, to: cp }
}

/** linesOf is the 1-based first and last line of a code point range of text. */
export function linesOf(text: string, from: number, to: number): { startLine: number; endLine: number } {
  let line = 1
  let startLine = 1
  let cp = 0
  const last = Math.max(from, to > from ? to - 1 : to)
  for (const ch of text) {
    if (cp === from) startLine = line
    if (cp === last) return { startLine, endLine: line }
    if (ch === '\n') line++
    cp++
  }
  if (from >= cp) startLine = line
  return { startLine, endLine: line }
}

export { codePointLength }
