// The Monaco side of a Review: a marker in the gutter and a highlighted
// range for every open thread, the "Comment" and "Share selection in chat"
// actions (context menu and keyboard), the draft's selection tracked as the
// text changes, and scrolling to a range with a brief highlight.

import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import type { Monaco } from '../editor/monacoSetup'
import { OffsetMap, codePointLength } from '../collab/offsets'
import type { TextRange } from '../collab/range'
import type { Review } from './review'
import { lineLink } from './links'
import { reviewBus } from './bus'

type CodeEditor = MonacoEditorNS.IStandaloneCodeEditor

export function bindReview(ed: CodeEditor, monaco: Monaco, review: Review): () => void {
  const model = ed.getModel() as MonacoEditorNS.ITextModel
  const session = review.session
  const threadsLayer = ed.createDecorationsCollection()
  const draftLayer = ed.createDecorationsCollection()
  const flashLayer = ed.createDecorationsCollection()
  let flashTimer: ReturnType<typeof setTimeout> | null = null
  let gutterLines = new Map<number, number>() // line -> thread id

  const toMonaco = (r: TextRange, map: OffsetMap) => {
    const start = model.getPositionAt(map.toUtf16(r.from))
    const end = model.getPositionAt(map.toUtf16(r.to))
    return new monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column)
  }
  const fromMonaco = (range: { startLineNumber: number; startColumn: number; endLineNumber: number; endColumn: number }) => {
    const map = new OffsetMap(session.text)
    return {
      from: map.toCodePoint(model.getOffsetAt({ lineNumber: range.startLineNumber, column: range.startColumn })),
      to: map.toCodePoint(model.getOffsetAt({ lineNumber: range.endLineNumber, column: range.endColumn })),
    }
  }

  const render = () => {
    if (model.getValue() !== session.text) return // mid-update; the next change renders
    const map = new OffsetMap(session.text)
    const decos: MonacoEditorNS.IModelDeltaDecoration[] = []
    const lines = new Map<number, number>()
    const { threads, focused } = review.getSnapshot()
    for (const t of threads) {
      if (t.root.resolved || !t.range || t.range.detached) continue
      let range
      try {
        range = toMonaco(t.range, map)
      } catch {
        continue
      }
      const mine = t.root.id === focused
      decos.push({
        range,
        options: {
          className: mine ? 'comment-range focused' : 'comment-range',
          hoverMessage: { value: plainMarkdown(`${t.root.username}: ${t.root.body.slice(0, 200)}`), isTrusted: false, supportHtml: false },
          stickiness: monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges,
        },
      })
      if (!lines.has(range.startLineNumber)) {
        lines.set(range.startLineNumber, t.root.id)
        decos.push({
          range: new monaco.Range(range.startLineNumber, 1, range.startLineNumber, 1),
          options: { linesDecorationsClassName: 'comment-gutter', linesDecorationsTooltip: `Comment by ${t.root.username}` },
        })
      }
    }
    gutterLines = lines
    threadsLayer.set(decos)
  }
  const offReview = review.subscribe(render)
  const offText = session.onText(() => queueMicrotask(render))
  render()

  const selectionOrLine = () => {
    const sel = ed.getSelection()
    if (!sel) return null
    if (!sel.isEmpty()) return sel
    const line = sel.startLineNumber
    return new monaco.Range(line, 1, line, model.getLineMaxColumn(line))
  }

  const startComment = () => {
    const range = selectionOrLine()
    if (!range || (range.startLineNumber === range.endLineNumber && range.startColumn === range.endColumn)) {
      reviewBus.notice('Select some code to comment on.')
      return
    }
    draftLayer.set([{ range, options: { className: 'comment-draft', stickiness: monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges } }])
    const r = fromMonaco(range)
    review.beginDraft(lineLink(session.text, r.from, r.to))
  }

  const shareSelection = () => {
    const range = selectionOrLine()
    if (!range) return
    const r = fromMonaco(range)
    reviewBus.share(lineLink(session.text, r.from, r.to))
  }

  const { KeyMod, KeyCode } = monaco
  const actions = [
    ed.addAction({
      id: 'gdoc.comment',
      label: 'Comment',
      keybindings: [KeyMod.CtrlCmd | KeyMod.Alt | KeyCode.KeyM],
      contextMenuGroupId: 'navigation',
      contextMenuOrder: 0,
      run: startComment,
    }),
    ed.addAction({
      id: 'gdoc.shareSelection',
      label: 'Share selection in chat',
      keybindings: [KeyMod.CtrlCmd | KeyMod.Alt | KeyCode.KeyL],
      contextMenuGroupId: 'navigation',
      contextMenuOrder: 1,
      run: shareSelection,
    }),
  ]

  const offMouse = ed.onMouseDown((e) => {
    if (e.target.type !== monaco.editor.MouseTargetType.GUTTER_LINE_DECORATIONS) return
    const line = e.target.position?.lineNumber
    const id = line === undefined ? undefined : gutterLines.get(line)
    if (id !== undefined) review.focus(id)
  })

  review.attachEditor({
    draftRange: () => {
      const r = draftLayer.getRanges()[0]
      if (!r || model.getValue() !== session.text) return null
      return fromMonaco(r)
    },
    clearDraft: () => draftLayer.clear(),
    reveal: (range, why) => {
      const map = new OffsetMap(session.text)
      let r
      try {
        r = toMonaco({ from: Math.min(range.from, codePointLength(session.text)), to: Math.min(range.to, codePointLength(session.text)) }, map)
      } catch {
        return
      }
      ed.revealRangeInCenterIfOutsideViewport(r, monaco.editor.ScrollType.Smooth)
      if (why === 'link') {
        flashLayer.set([{ range: new monaco.Range(r.startLineNumber, 1, r.endLineNumber, model.getLineMaxColumn(r.endLineNumber)), options: { isWholeLine: true, className: 'link-flash' } }])
        if (flashTimer) clearTimeout(flashTimer)
        flashTimer = setTimeout(() => flashLayer.clear(), 4000)
      }
      reviewBus.revealed(r.startLineNumber, r.endLineNumber)
    },
  })

  return () => {
    review.attachEditor(null)
    offReview()
    offText()
    offMouse.dispose()
    for (const a of actions) a.dispose()
    threadsLayer.clear()
    draftLayer.clear()
    flashLayer.clear()
    if (flashTimer) clearTimeout(flashTimer)
  }
}

/** plainMarkdown escapes text so Monaco's markdown hover shows it as written (no links, no markup). */
function plainMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&')
}
