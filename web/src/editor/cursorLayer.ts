// RemoteCursorLayer draws other people's selections in Monaco: a caret and a
// selection decoration per cursor, and a name label as a content widget.

import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import { OffsetMap } from '../collab/offsets'
import type { RemoteCursor } from '../collab/remoteCursors'
import type { Monaco } from './monacoSetup'

type CodeEditor = MonacoEditorNS.IStandaloneCodeEditor

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

export class RemoteCursorLayer {
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
