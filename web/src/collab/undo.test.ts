import { describe, expect, it } from 'vitest'
import { UndoHistory } from './undo'
import type { TextOp } from './textOp'
import { textType } from './textOp'
import { prng, randomOp } from './testkit'

/** Doc is one editor: its text and its own undo history; remote ops skip the history. */
class Doc {
  text: string
  history = new UndoHistory(0)
  now = 0
  constructor(text: string) {
    this.text = text
  }
  local(op: TextOp): void {
    this.history.recordLocal(op, this.text, (this.now += 1000))
    this.text = textType.apply(this.text, op)
  }
  remote(op: TextOp): void {
    this.text = textType.apply(this.text, op)
    this.history.transformRemote(op)
  }
  undo(): void {
    const op = this.history.undo(this.text)
    if (op) this.text = textType.apply(this.text, op)
  }
  redo(): void {
    const op = this.history.redo(this.text)
    if (op) this.text = textType.apply(this.text, op)
  }
}

describe('UndoHistory', () => {
  it('reverts only own edits after remote ones', () => {
    const d = new Doc('fn main() {}\n')
    d.local([11, 'mine'])
    d.remote(['// theirs\n'])
    expect(d.text).toBe('// theirs\nfn main() {mine}\n')
    d.undo()
    expect(d.text).toBe('// theirs\nfn main() {}\n')
    d.redo()
    expect(d.text).toBe('// theirs\nfn main() {mine}\n')
  })

  it('undoes a sequence of own edits interleaved with remote edits in reverse order', () => {
    const d = new Doc('abc')
    d.local([3, '1']) // abc1
    d.remote(['R']) // Rabc1
    d.local([{ d: 1 }]) // own delete of the remote "R": abc1
    d.remote([4, 'S']) // abc1S
    d.local([2, '2']) // ab2c1S
    d.undo()
    expect(d.text).toBe('abc1S')
    d.undo()
    expect(d.text).toBe('Rabc1S')
    d.undo()
    expect(d.text).toBe('RabcS')
    d.undo() // nothing left
    expect(d.text).toBe('RabcS')
    d.redo()
    d.redo()
    d.redo()
    expect(d.text).toBe('ab2c1S')
  })

  it('merges edits inside the merge window into one undo step', () => {
    const h = new UndoHistory(700)
    let text = ''
    for (const [i, ch] of ['h', 'i', '!'].entries()) {
      const op = textType.normalize([i, ch])
      h.recordLocal(op, text, 100 * i)
      text = textType.apply(text, op)
    }
    const u = h.undo(text)!
    expect(textType.apply(text, u)).toBe('')
    expect(h.canUndo).toBe(false)
  })

  it('keeps a typed run together across remote edits, but not across a caret move', () => {
    const h = new UndoHistory(700)
    let text = 'line\n'
    const own = (op: TextOp, at: number) => {
      h.recordLocal(op, text, at)
      text = textType.apply(text, op)
    }
    own([5, 'a'], 0)
    text = textType.apply(text, ['R'])
    h.transformRemote(['R'])
    own([7, 'b'], 100) // continues after "a", which moved right by one
    h.breakGroup() // the user clicked elsewhere
    own(['X'], 200)
    text = textType.apply(text, h.undo(text)!)
    expect(text).toBe('Rline\nab')
    text = textType.apply(text, h.undo(text)!)
    expect(text).toBe('Rline\n')
    expect(h.canUndo).toBe(false)
  })

  it('merges a backspace run', () => {
    const h = new UndoHistory(700)
    let text = 'abcd'
    for (const [i, op] of [[3, { d: 1 }], [2, { d: 1 }]].entries()) {
      h.recordLocal(op as TextOp, text, i * 10)
      text = textType.apply(text, op as TextOp)
    }
    expect(text).toBe('ab')
    text = textType.apply(text, h.undo(text)!)
    expect(text).toBe('abcd')
    expect(h.canUndo).toBe(false)
  })

  it('a new own edit clears redo', () => {
    const d = new Doc('x')
    d.local([1, 'a'])
    d.undo()
    d.local([1, 'b'])
    expect(d.history.canRedo).toBe(false)
  })

  it('undo of everything own restores exactly the remote-only text (random)', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rand = prng(seed)
      // Own text uses letters, remote text digits, so the survivors are checkable.
      const d = new Doc('')
      let ownOps = 0
      for (let i = 0; i < 12; i++) {
        if (rand() < 0.5) {
          const pos = Math.floor(rand() * (Array.from(d.text).length + 1))
          d.local(textType.normalize([pos, 'o']))
          ownOps++
        } else {
          const pos = Math.floor(rand() * (Array.from(d.text).length + 1))
          d.remote(textType.normalize([pos, '7']))
        }
      }
      for (let i = 0; i < ownOps; i++) d.undo()
      expect(d.text, `seed ${seed}`).toMatch(/^7*$/)
      expect(d.text.length).toBe(12 - ownOps)
      // Random ops after that must still apply cleanly.
      d.local(randomOp(rand, d.text))
      d.undo()
      expect(d.text).toMatch(/^7*$/)
    }
  })
})

describe('invert', () => {
  it('undoes random ops on text with emoji', async () => {
    const { invert } = await import('./textOp')
    const { randomText } = await import('./testkit')
    const rand = prng(99)
    for (let i = 0; i < 2000; i++) {
      const text = randomText(rand, 12)
      const op = randomOp(rand, text)
      const after = textType.apply(text, op)
      expect(textType.apply(after, invert(op, text))).toBe(text)
    }
  })
})
