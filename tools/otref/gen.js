#!/usr/bin/env node
// Generates golden cases for internal/ot with the reference implementation,
// ot-text-unicode 4.0.0. Every expected value in the output comes from the
// reference; the only values computed here are the documented places where
// G-Doc is stricter than the reference (see "strict" below).
//
// Usage: node gen.js --seed N --count K --out FILE
'use strict'

const fs = require('fs')
const { type, insert, remove } = require('ot-text-unicode')
const { uniCount } = require('unicount')

function parseArgs(argv) {
  const args = { seed: 1, count: 2000, out: null }
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in args)) throw Error(`unknown flag ${argv[i]}`)
    args[key] = key === 'out' ? argv[++i] : Number(argv[++i])
  }
  if (!args.out || !Number.isInteger(args.seed) || !(args.count > 0)) {
    throw Error('usage: node gen.js --seed N --count K --out FILE')
  }
  return args
}

// mulberry32: a small seeded PRNG, so a seed reproduces a file exactly.
function makeRandom(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Pieces of text the documents and inserts are made of: ASCII, JSON's
// special characters, CRLF, combining marks, CJK, Hangul, astral emoji with
// skin tones, ZWJ sequences, flags and a bare ZWJ.
const ATOMS = [
  'a', 'b', 'c', 'x', 'y', 'z', 'Q', ' ', ' ', '\n', '\r\n', '\t', '"', '\\', '<', '&',
  'é', 'e\u0301', 'ß', 'Ω', '漢', '字', '한', '😀', '👍🏽', '👩‍👩‍👧', '🇯🇵', '𝒳', '\u200d', '\u00a0',
]

function makeGen(rand) {
  const int = (n) => Math.floor(rand() * n) // 0 ≤ x < n
  const text = (maxAtoms) => {
    let s = ''
    const n = 1 + int(maxAtoms)
    for (let i = 0; i < n; i++) s += ATOMS[int(ATOMS.length)]
    return s
  }
  const doc = () => (rand() < 0.08 ? '' : text(rand() < 0.15 ? 60 : 16))
  const uniSlice = (s, from, to) => Array.from(s).slice(from, to).join('')

  // A random op on d, built from the reference's own helpers: a few inserts
  // and removes (by length or by text) composed with type.compose.
  const op = (d) => {
    let result = []
    let cur = d
    const edits = rand() < 0.05 ? 0 : 1 + int(4)
    for (let i = 0; i < edits; i++) {
      const len = uniCount(cur)
      let edit
      if (len === 0 || rand() < 0.5) {
        edit = insert(int(len + 1), text(4))
      } else {
        const pos = int(len)
        const n = 1 + int(Math.min(len - pos, 6))
        edit = remove(pos, rand() < 0.5 ? uniSlice(cur, pos, pos + n) : n)
      }
      result = type.compose(result, edit)
      cur = type.apply(cur, edit)
    }
    return result
  }
  return { int, text, doc, op }
}

// Runs fn; a throw becomes {error: message}, as Go must return an error there.
function attempt(fn) {
  try {
    return { result: fn() }
  } catch (e) {
    return { error: String(e.message || e) }
  }
}

function scenario(g) {
  const doc = g.doc()
  const a = g.op(doc)
  const b = g.op(doc)
  const docA = type.apply(doc, a)
  const c = g.op(docA)
  const len = uniCount(doc)
  const positions = [0, g.int(len + 1), g.int(len + 1), len, len + 1 + g.int(3)]
  const sel = [g.int(len + 1), g.int(len + 1)]
  return {
    doc,
    a,
    b,
    c,
    apply_a: docA,
    apply_ac: type.apply(docA, c),
    a_left: type.transform(a, b, 'left'),
    a_right: type.transform(a, b, 'right'),
    b_left: type.transform(b, a, 'left'),
    b_right: type.transform(b, a, 'right'),
    compose_ac: type.compose(a, c),
    positions,
    positions_a: positions.map((p) => type.transformPosition(p, a)),
    sel,
    sel_a: type.transformSelection(sel, a),
    invertible_a: type.makeInvertible(a, doc),
    invert_with_doc_a: type.invertWithDoc(a, doc),
    invert_a: attempt(() => type.invert(a)),
  }
}

// What G-Doc refuses although the reference applies it: a skip or delete
// past the end of the text (the reference throws only for skips), and a
// delete whose text differs from the document's.
function strictApplyError(doc, op) {
  let rest = Array.from(doc)
  for (const c of op) {
    if (typeof c === 'number') {
      if (c > rest.length) return 'skip past the end'
      rest = rest.slice(c)
    } else if (typeof c === 'object') {
      const n = typeof c.d === 'number' ? c.d : uniCount(c.d)
      if (n > rest.length) return 'delete past the end'
      if (typeof c.d === 'string' && rest.slice(0, n).join('') !== c.d) return 'deleted text differs'
      rest = rest.slice(n)
    }
  }
  return null
}

// Applies an op to a text it was not made for.
function mismatchedApply(g) {
  const doc = g.doc()
  const op = g.op(g.doc())
  const ref = attempt(() => type.apply(doc, op))
  const strict = strictApplyError(doc, op)
  return { doc, op, ref_error: ref.error || null, ref_result: ref.error ? null : ref.result, go_error: !!(ref.error || strict), strict }
}

// Raw JSON ops for Parse. go_error says whether G-Doc must refuse it: where
// the reference throws, and where G-Doc is stricter (not normalized,
// fractional or non-number components, unknown fields, lone surrogates).
const RAW_OPS = [
  '[]', '[1,"x"]', '["x"]', '[{"d":1}]', '[{"d":"ab"}]', '[2,{"d":"😀"},"👩‍👩‍👧"]', '[1,"x",{"d":2}]',
  '["a",{"d":1},"b"]', '[{"d":1},"a",{"d":1}]', '[1,"\\ud83d\\ude00"]',
  '[0]', '[1]', '[1,"x",2]', '[1,2,"x"]', '[""]', '[{"d":0}]', '[{"d":""}]', '[{"d":-1}]', '[-1,"x"]',
  '{"d":1}', '"x"', '3', 'null', '[null]', '[[1]]', '[{"x":1}]', '[{"d":null}]', '[{"d":true}]',
  '["a","b"]', '[{"d":1},{"d":2}]', '[{"d":"a"},{"d":1}]', '[1.5,"x"]', '[1e1,"x"]', '[true]',
  '[{"d":1,"x":2}]', '["\\ud800"]', '["\\udc00x"]', '[{"d":"\\ud83d"}]', '[1,"a\\ud83d"]', '[',
]

function rawCase(raw) {
  let ref
  try {
    type.checkOp(JSON.parse(raw))
    ref = null
  } catch (e) {
    ref = String(e.message || e)
  }
  const goError = ref !== null || !isStrictlyNormalized(raw)
  return { raw, ref_error: ref, go_error: goError }
}

// G-Doc's Check: integer lengths, no two adjacent components of one kind, no
// unknown fields, no lone surrogates. Only called where the reference accepts.
function isStrictlyNormalized(raw) {
  if (/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i.test(raw) || /(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i.test(raw)) return false
  const op = JSON.parse(raw)
  let last = null
  for (const c of op) {
    const kind = typeof c === 'number' ? 'skip' : typeof c === 'string' ? 'insert'
      : c && typeof c === 'object' && Object.keys(c).length === 1 && 'd' in c ? 'delete' : 'bad'
    if (kind === 'bad' || kind === last) return false
    if (kind === 'skip' && !Number.isInteger(c)) return false
    if (kind === 'delete' && typeof c.d === 'number' && !Number.isInteger(c.d)) return false
    last = kind
  }
  return true
}

function main() {
  const args = parseArgs(process.argv)
  const rand = makeRandom(args.seed)
  const g = makeGen(rand)
  const cases = []
  for (let i = 0; i < args.count; i++) cases.push(scenario(g))
  const applies = []
  for (let i = 0; i < Math.ceil(args.count / 4); i++) applies.push(mismatchedApply(g))
  const raws = RAW_OPS.map(rawCase)
  const lines = [
    '{',
    `"reference": "ot-text-unicode@4.0.0", "seed": ${args.seed}, "count": ${args.count},`,
    '"raw_ops": [',
    raws.map((r) => JSON.stringify(r)).join(',\n'),
    '],',
    '"mismatched_applies": [',
    applies.map((r) => JSON.stringify(r)).join(',\n'),
    '],',
    '"cases": [',
    cases.map((c) => JSON.stringify(c)).join(',\n'),
    ']',
    '}',
  ]
  fs.writeFileSync(args.out, lines.join('\n') + '\n')
}

main()
