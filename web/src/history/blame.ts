// Blame in the live editor: each line's author colour in the glyph margin,
// their name and the time on hover, refreshed as the document moves.

import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import type { Monaco } from '../editor/monacoSetup'
import { historyApi, safeColor, when, type BlameLine } from './historyApi'

type CodeEditor = MonacoEditorNS.IStandaloneCodeEditor

const styled = new Set<string>()

/** colorClass returns a CSS class painting the gutter in color (one rule per colour). */
function colorClass(color: string): string {
  const hex = safeColor(color).slice(1)
  const cls = `blame-c-${hex}`
  if (!styled.has(hex)) {
    styled.add(hex)
    let sheet = document.getElementById('blame-colors') as HTMLStyleElement | null
    if (!sheet) {
      sheet = document.createElement('style')
      sheet.id = 'blame-colors'
      document.head.appendChild(sheet)
    }
    sheet.appendChild(document.createTextNode(`.${cls} { background: #${hex}; }\n`))
  }
  return cls
}

function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`)
}

/** Blame paints the editor with who last changed each line. */
export class BlameLayer {
  private decorations: MonacoEditorNS.IEditorDecorationsCollection
  private seq = 0
  lines: BlameLine[] = []
  private readonly ed: CodeEditor
  private readonly monaco: Monaco
  private readonly docId: string
  private readonly onError: (message: string | null) => void
  private readonly onLoaded: (lines: BlameLine[]) => void

  constructor(
    ed: CodeEditor,
    monaco: Monaco,
    docId: string,
    onError: (message: string | null) => void,
    onLoaded: (lines: BlameLine[]) => void,
  ) {
    this.ed = ed
    this.monaco = monaco
    this.docId = docId
    this.onError = onError
    this.onLoaded = onLoaded
    this.decorations = ed.createDecorationsCollection()
    ed.updateOptions({ glyphMargin: true })
  }

  async refresh(): Promise<void> {
    const my = ++this.seq
    try {
      const b = await historyApi.blame(this.docId)
      if (my !== this.seq) return
      this.lines = b.lines
      this.paint()
      this.onError(null)
      this.onLoaded(b.lines)
    } catch (err) {
      if (my === this.seq) this.onError(err instanceof Error ? err.message : 'Could not load who wrote each line.')
    }
  }

  private paint(): void {
    const model = this.ed.getModel()
    if (!model) return
    const n = Math.min(model.getLineCount(), this.lines.length)
    const decos: MonacoEditorNS.IModelDeltaDecoration[] = []
    for (let i = 0; i < n; i++) {
      const l = this.lines[i]
      const who = l.user_id ? l.username || 'a deleted user' : 'the document as created'
      const hover = { value: `**${escapeMarkdown(who)}** · ${escapeMarkdown(when(l.created_at))} · revision ${l.rev}` }
      decos.push({
        range: new this.monaco.Range(i + 1, 1, i + 1, 1),
        options: {
          isWholeLine: true,
          glyphMarginClassName: `blame-glyph ${l.user_id ? colorClass(l.color) : 'blame-none'}`,
          glyphMarginHoverMessage: hover,
          linesDecorationsClassName: `blame-bar ${l.user_id ? colorClass(l.color) : 'blame-none'}`,
          stickiness: this.monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges,
        },
      })
    }
    this.decorations.set(decos)
  }

  dispose(): void {
    this.seq++
    this.decorations.clear()
    this.ed.updateOptions({ glyphMargin: false })
  }
}
