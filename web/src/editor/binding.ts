// The Monaco side of a DocumentSession: local changes become ops, remote ops
// become model edits (kept out of the user's undo), Ctrl/Cmd+Z runs the
// session's per-user undo, and remote cursors are drawn as decorations.

import type { editor as MonacoEditorNS, IDisposable } from 'monaco-editor/editor'
import type { Monaco } from './monacoSetup'
import { changesToOp, opToEdits, transformOffset } from '../collab/monacoOps'
import { OffsetMap } from '../collab/offsets'
import type { DocumentSession, RemoteCursor, TextChange } from '../collab/session'
import { diffOp } from '../collab/textOp'

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
    if (shown !== session.text) session.applyLocal(diffOp(session.text, shown))
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
        session.applyLocal(changesToOp(session.text, e.changes))
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

const COLOR = /^#[0-9a-fA-F]{3,8}$/
const safeColor = (c: string) => (COLOR.test(c) ? c : '#61afef')

// Per-user CSS classes are keyed by a small index, never by a name; the only
// thing written into CSS is a color that matched COLOR. Names are set with
// textContent on the label widget.
const classIndexByUser = new Map<string, number>()
let styleSheet: HTMLStyleElement | null = null

function userClassIndex(userId: string, color: string): number {
  let idx = classIndexByUser.get(userId)
  if (idx === undefined) {
    idx = classIndexByUser.size
    classIndexByUser.set(userId, idx)
    if (!styleSheet) {
      styleSheet = document.createElement('style')
      document.head.appendChild(styleSheet)
    }
    const c = safeColor(color)
    styleSheet.appendChild(
      document.createTextNode(
        `.rc-sel-${idx}{background-color:${c}55;}.rc-caret-${idx}{border-left:2px solid ${c};margin-left:-1px;}`,
      ),
    )
  }
  return idx
}

class RemoteCursorLayer {
  private readonly ed: CodeEditor
  private readonly monaco: Monaco
  private readonly decorations: MonacoEditorNS.IEditorDecorationsCollection
  private readonly labels = new Map<string, { node: HTMLElement; widget: MonacoEditorNS.IContentWidget; pos: { lineNumber: number; column: number } }>()

  constructor(ed: CodeEditor, monaco: Monaco) {
    this.ed = ed
    this.monaco = monaco
    this.decorations = ed.createDecorationsCollection()
  }

  render(cursors: RemoteCursor[], text: string): void {
    const model = this.ed.getModel()
    if (!model) return
    const map = new OffsetMap(text)
    const decos: MonacoEditorNS.IModelDeltaDecoration[] = []
    const seen = new Set<string>()
    for (const c of cursors) {
      let head
      let anchor
      try {
        head = model.getPositionAt(map.toUtf16(c.head))
        anchor = model.getPositionAt(map.toUtf16(c.anchor))
      } catch {
        continue
      }
      const idx = userClassIndex(c.user_id, c.color)
      if (c.anchor !== c.head) {
        const [s, e] = c.anchor < c.head ? [anchor, head] : [head, anchor]
        decos.push({
          range: new this.monaco.Range(s.lineNumber, s.column, e.lineNumber, e.column),
          options: { className: `rc-sel-${idx}`, stickiness: 1 },
        })
      }
      decos.push({
        range: new this.monaco.Range(head.lineNumber, head.column, head.lineNumber, head.column),
        options: { beforeContentClassName: `rc-caret rc-caret-${idx}`, stickiness: 1 },
      })
      seen.add(c.conn_id)
      this.placeLabel(c, head)
    }
    this.decorations.set(decos)
    for (const [id, l] of this.labels) {
      if (!seen.has(id)) {
        this.ed.removeContentWidget(l.widget)
        this.labels.delete(id)
      }
    }
  }

  private placeLabel(c: RemoteCursor, pos: { lineNumber: number; column: number }): void {
    let label = this.labels.get(c.conn_id)
    if (!label) {
      const node = document.createElement('div')
      node.className = 'rc-label'
      const holder = { lineNumber: pos.lineNumber, column: pos.column }
      const widgetId = `rc-label-${this.labels.size}-${Math.random().toString(36).slice(2)}`
      const widget: MonacoEditorNS.IContentWidget = {
        getId: () => widgetId,
        getDomNode: () => node,
        getPosition: () => ({
          position: label!.pos,
          preference: [
            this.monaco.editor.ContentWidgetPositionPreference.ABOVE,
            this.monaco.editor.ContentWidgetPositionPreference.BELOW,
          ],
        }),
      }
      label = { node, widget, pos: holder }
      this.labels.set(c.conn_id, label)
      this.ed.addContentWidget(widget)
    }
    label.node.textContent = c.username
    label.node.style.backgroundColor = safeColor(c.color)
    label.pos = { lineNumber: pos.lineNumber, column: pos.column }
    this.ed.layoutContentWidget(label.widget)
  }

  dispose(): void {
    this.decorations.clear()
    for (const l of this.labels.values()) this.ed.removeContentWidget(l.widget)
    this.labels.clear()
  }
}
