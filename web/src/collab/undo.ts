// Per-user undo for a shared text: a stack of inverted own ops, each
// transformed through every later remote op, so undo reverts only this
// user's edits (ot.js UndoManager). Pure.

import type { TextOp } from './textOp'
import { invert, textType } from './textOp'

export class UndoHistory {
  undoStack: TextOp[] = []
  redoStack: TextOp[] = []
  private lastRecordAt = -Infinity
  private readonly mergeWindowMs: number
  private readonly maxDepth: number

  /**
   * Own edits closer than mergeWindowMs apart undo together (one typed run, not
   * one letter), unless breakGroup was called between them (the user moved the caret).
   */
  constructor(mergeWindowMs = 700, maxDepth = 500) {
    this.mergeWindowMs = mergeWindowMs
    this.maxDepth = maxDepth
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0
  }

  /** recordLocal registers an own op that was applied to textBefore; it clears redo. */
  recordLocal(op: TextOp, textBefore: string, now: number): void {
    if (op.length === 0) return
    const inverse = invert(op, textBefore)
    const top = this.undoStack[this.undoStack.length - 1]
    if (top !== undefined && now - this.lastRecordAt < this.mergeWindowMs) {
      this.undoStack[this.undoStack.length - 1] = textType.compose(inverse, top)
    } else {
      this.undoStack.push(inverse)
      if (this.undoStack.length > this.maxDepth) this.undoStack.shift()
    }
    this.lastRecordAt = now
    this.redoStack = []
  }

  /** breakGroup makes the next own edit a new undo step. */
  breakGroup(): void {
    this.lastRecordAt = -Infinity
  }

  /** transformRemote rebases both stacks over a remote op applied to the local text. */
  transformRemote(op: TextOp): void {
    this.undoStack = rebase(this.undoStack, op)
    this.redoStack = rebase(this.redoStack, op)
  }

  /** undo returns the op reverting the last own edit against text (the current text), or null. */
  undo(text: string): TextOp | null {
    const op = this.undoStack.pop()
    if (op === undefined) return null
    this.redoStack.push(invert(op, text))
    this.lastRecordAt = -Infinity
    return op
  }

  /** redo returns the op re-applying the last undone edit against text, or null. */
  redo(text: string): TextOp | null {
    const op = this.redoStack.pop()
    if (op === undefined) return null
    this.undoStack.push(invert(op, text))
    this.lastRecordAt = -Infinity
    return op
  }
}

// rebase transforms a stack whose top applies to the current text over remote,
// which also applies to the current text. Entries below the top apply to the
// text with every entry above undone, so remote is carried down the stack.
function rebase(stack: TextOp[], remote: TextOp): TextOp[] {
  const out = new Array<TextOp>(stack.length)
  let r = remote
  for (let i = stack.length - 1; i >= 0; i--) {
    const u = stack[i]
    out[i] = textType.transform(u, r, 'left')
    r = textType.transform(r, u, 'right')
  }
  return out.filter((op) => op.length > 0)
}
