// The Monaco side of a DocumentSession: local changes become ops, remote ops
// become model edits (kept out of the user's undo), Ctrl/Cmd+Z runs the
// session's per-user undo, and remote cursors are drawn (cursorLayer.ts).

import type { editor as MonacoEditorNS, IDisposable } from 'monaco-editor/editor'
import type { Monaco } from './monacoSetup'
import { OffsetMap } from '../collab/offsets'
import type { DocumentSession, TextChange } from '../collab/session'
import type { TextOp } from '../collab/textOp'
import { diffOp, invert, textType } from '../collab/textOp'
import { RemoteCursorLayer } from './cursorLayer'
import { changesToOp, opToEdits, transformOffset } from './monacoOps'

type CodeEditor = MonacoEditorNS.IStandaloneCodeEditor
type Model = MonacoEditorNS.ITextModel

export function bindEditor(ed: CodeEditor, monaco: Monaco, session: DocumentSession): () => void {
  const model = ed.getModel() as Model
  model.setEOL(monaco.editor.EndOfLineSequence.LF)
  let applying = false

  const replaceAll = (text: string) => {
    applying = true
    try {
      model.setValue(text)
      model.setEOL(monaco.editor.EndOfLineSequence.LF)
    } finally {
      applying = false
    }
  }
  if (model.getValue() !== session.text) replaceAll(session.text)

  // heal brings the session in line with what the editor shows, should they
  // ever differ, by sending the difference as a local edit.
  const heal = () => {
    const shown = model.getValue()
    if (shown !== session.text && !session.applyLocal(diffOp(session.text, shown))) replaceAll(session.text)
  }

  // takeBack undoes in the editor an edit the session refused (one that
  // would pass the document size cap), so the editor shows what the server
  // has. It runs once Monaco has finished the paste (a microtask, before any
  // socket message), not inside its change event.
  const takeBack = (op: TextOp) => {
    const before = session.text
    const undo = invert(op, before)
    const shown = textType.apply(before, op)
    queueMicrotask(() => {
      if (model.getValue() !== shown) {
        replaceAll(session.text)
        return
      }
      applyChange({ kind: 'op', op: undo, before: shown, after: before, own: true })
    })
  }

  const applyChange = (c: TextChange) => {
    if (c.kind === 'reset') {
      if (model.getValue() !== c.text) replaceAll(c.text)
      return
    }
    const offsetsBefore = ed.getSelections()?.map((s) => ({
      anchor: model.getOffsetAt({ lineNumber: s.selectionStartLineNumber, column: s.selectionStartColumn }),
      head: model.getOffsetAt(s.getPosition()),
    }))
    const edits = opToEdits(c.before, c.op).map((e) => {
      const start = model.getPositionAt(e.offset)
      const end = model.getPositionAt(e.offset + e.length)
      return {
        range: new monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column),
        text: e.text,
        forceMoveMarkers: false,
      }
    })
    applying = true
    try {
      model.pushStackElement()
      model.applyEdits(edits)
      model.pushStackElement()
    } finally {
      applying = false
    }
    if (model.getValueLength() !== c.after.length) {
      replaceAll(c.after)
      return
    }
    if (c.own) {
      // Undo/redo: put the caret where the change happened.
      const last = edits[edits.length - 1]
      if (last) {
        const at = model.getPositionAt(model.getOffsetAt({ lineNumber: last.range.startLineNumber, column: last.range.startColumn }) + last.text.length)
        ed.setPosition(at)
        ed.revealPositionInCenterIfOutsideViewport(at)
      }
    } else if (offsetsBefore && offsetsBefore.length > 0) {
      applying = true
      try {
        ed.setSelections(
          offsetsBefore.map(({ anchor, head }) => {
            const a = model.getPositionAt(transformOffset(c.before, c.after, c.op, anchor))
            const h = model.getPositionAt(transformOffset(c.before, c.after, c.op, head))
            return new monaco.Selection(a.lineNumber, a.column, h.lineNumber, h.column)
          }),
        )
      } finally {
        applying = false
      }
    }
  }

  const disposables: IDisposable[] = []
  const offText = session.onText(applyChange)

  disposables.push(
    model.onDidChangeContent((e) => {
      if (applying) return
      if (e.isFlush) {
        heal()
        return
      }
      try {
        const op = changesToOp(session.text, e.changes)
        if (!session.applyLocal(op)) {
          takeBack(op)
          return
        }
      } catch {
        heal()
        return
      }
      if (model.getValueLength() !== session.text.length) heal()
    }),
  )

  disposables.push(
    ed.onDidChangeCursorSelection((e) => {
      if (applying) return
      // A caret moved by anything but typing (click, arrows, a command) starts a new undo step.
      const R = monaco.editor.CursorChangeReason
      if (e.reason === R.Explicit || e.reason === R.Paste || e.source === 'api' || e.source === 'mouse') {
        session.history.breakGroup()
      }
      const s = e.selection
      const map = new OffsetMap(session.text)
      try {
        const anchor = map.toCodePoint(model.getOffsetAt({ lineNumber: s.selectionStartLineNumber, column: s.selectionStartColumn }))
        const head = map.toCodePoint(model.getOffsetAt(s.getPosition()))
        session.setSelection(anchor, head)
      } catch {
        /* the selection is mid-update; the next event carries it */
      }
    }),
  )

  // Per-user undo replaces Monaco's (which would also revert other people's edits).
  const { KeyMod, KeyCode } = monaco
  ed.addCommand(KeyMod.CtrlCmd | KeyCode.KeyZ, () => session.undo())
  ed.addCommand(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, () => session.redo())
  ed.addCommand(KeyMod.CtrlCmd | KeyCode.KeyY, () => session.redo())

  const cursors = new RemoteCursorLayer(ed, monaco)
  const offSnap = session.subscribe(() => cursors.render(session.getSnapshot().cursors, session.text))
  cursors.render(session.getSnapshot().cursors, session.text)

  return () => {
    offText()
    offSnap()
    cursors.dispose()
    for (const d of disposables) d.dispose()
  }
}
