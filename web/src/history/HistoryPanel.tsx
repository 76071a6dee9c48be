// The History panel: the editing sessions, a slider over every revision, the
// selected revision against the current text in Monaco's diff editor, and
// Restore / Download of that revision.

import { DiffEditor } from '@monaco-editor/react'
import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import { useCallback, useEffect, useRef, useState } from 'react'
import { ApiError } from '../api'
import { historyApi, safeColor, when, type HistoryEntry, type HistoryPage, type Revision } from './historyApi'

type DiffEditorInstance = MonacoEditorNS.IStandaloneDiffEditor

interface Props {
  docId: string
  /** The live text, shown on the right of the diff. */
  current: string
  /** The live revision: the panel refreshes its list as it moves. */
  liveRev: number
  language: string
  canRestore: boolean
  onClose: () => void
}

function message(err: unknown, fallback: string): string {
  return err instanceof ApiError ? err.message : fallback
}

export function HistoryPanel({ docId, current, liveRev, language, canRestore, onClose }: Props) {
  const [page, setPage] = useState<HistoryPage | null>(null)
  const [older, setOlder] = useState<HistoryEntry[]>([])
  const [sel, setSel] = useState<number | null>(null)
  const [revision, setRevision] = useState<Revision | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const followHead = useRef(true)
  const diffEditor = useRef<DiffEditorInstance | null>(null)

  // The wrapper disposing the models before the widget lets go of them
  // throws; it keeps them (keepCurrent…Model) and they go here, after.
  useEffect(
    () => () => {
      const diff = diffEditor.current
      diffEditor.current = null
      const models = diff?.getModel()
      try {
        diff?.setModel(null)
      } catch {
        /* already disposed */
      }
      models?.original.dispose()
      models?.modified.dispose()
    },
    [],
  )
  const seq = useRef(0)

  const loadList = useCallback(async () => {
    try {
      const p = await historyApi.history(docId)
      setPage(p)
      setOlder([])
      setSel((s) => (s === null || followHead.current ? p.head_rev : Math.min(Math.max(s, p.start_rev), p.head_rev)))
    } catch (err) {
      setError(message(err, 'Could not load the history.'))
    }
  }, [docId])

  // Load at once, then again a moment after the live revision moves.
  useEffect(() => {
    const t = setTimeout(() => void loadList(), page === null ? 0 : 800)
    return () => clearTimeout(t)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loadList, liveRev])

  // Fetch the selected revision (debounced while the slider moves).
  useEffect(() => {
    if (sel === null) return
    const my = ++seq.current
    const t = setTimeout(async () => {
      try {
        const r = await historyApi.revision(docId, sel)
        if (seq.current === my) {
          setRevision(r)
          setError(null)
        }
      } catch (err) {
        if (seq.current === my) setError(message(err, 'Could not load that revision.'))
      }
    }, 120)
    return () => clearTimeout(t)
  }, [docId, sel])

  const choose = (rev: number) => {
    followHead.current = page !== null && rev === page.head_rev
    setSel(rev)
    setNotice(null)
  }

  const restore = async () => {
    if (sel === null) return
    setBusy(true)
    setError(null)
    try {
      const doc = await historyApi.restore(docId, sel)
      setNotice(`Restored revision ${sel}. Everyone editing sees it now; restore again to undo it.`)
      followHead.current = true
      setSel(doc.rev)
      await loadList()
    } catch (err) {
      setError(message(err, 'Could not restore that revision.'))
    } finally {
      setBusy(false)
    }
  }

  const download = async () => {
    if (sel === null) return
    try {
      const name = await historyApi.download(docId, sel)
      setNotice(`Downloaded revision ${sel} as ${name}.`)
    } catch (err) {
      setError(message(err, 'Could not download that revision.'))
    }
  }

  const loadOlder = async () => {
    const before = page?.next_before
    if (!page || !before) return
    try {
      const p = await historyApi.history(docId, before)
      setOlder((o) => [...o, ...p.entries])
      setPage({ ...page, next_before: p.next_before })
    } catch (err) {
      setError(message(err, 'Could not load older history.'))
    }
  }

  const entries = page ? [...page.entries, ...older] : []
  const hasOlder = page !== null && page.next_before > 0

  return (
    <section className="history-panel" role="dialog" aria-label="History" data-testid="history-panel">
      <div className="history-head">
        <h2>History</h2>
        <button type="button" className="ghost small" onClick={onClose} aria-label="Close history">Close</button>
      </div>
      {page === null && !error && <p role="status" className="hint">Loading history…</p>}
      {page !== null && sel !== null && (
        <div className="history-slider">
          <label htmlFor="history-rev">
            Revision <strong data-testid="history-rev">{sel}</strong> of {page.head_rev}
            {page.start_rev > 0 && <span className="hint"> (history starts at revision {page.start_rev}; earlier text is not kept)</span>}
          </label>
          <div className="slider-row">
            <button type="button" className="ghost small" aria-label="Older revision" disabled={sel <= page.start_rev} onClick={() => choose(sel - 1)}>◀</button>
            <input
              id="history-rev"
              type="range"
              min={page.start_rev}
              max={page.head_rev}
              value={sel}
              aria-label="Revision"
              aria-valuetext={`Revision ${sel}`}
              onChange={(e) => choose(Number(e.target.value))}
            />
            <button type="button" className="ghost small" aria-label="Newer revision" disabled={sel >= page.head_rev} onClick={() => choose(sel + 1)}>▶</button>
          </div>
          <p className="history-caption" data-testid="history-caption">
            {revision && revision.rev === sel
              ? revision.user_id
                ? `Revision ${sel} by ${revision.username || 'a deleted user'}, ${when(revision.created_at)}`
                : sel > 0
                  ? `Revision ${sel}: the oldest revision kept`
                  : `Revision ${sel}: the document as created, ${when(revision.created_at)}`
              : sel !== null && revision?.rev !== sel && !error ? 'Loading revision…' : ''}
          </p>
          <div className="history-actions">
            <button type="button" onClick={() => void restore()} disabled={busy || !canRestore || sel === page.head_rev}
              title={canRestore ? 'Bring back this text as a new edit' : 'Only editors can restore'}>
              Restore this version
            </button>
            <button type="button" className="ghost" onClick={() => void download()}>Download this version</button>
          </div>
        </div>
      )}
      {notice && <p className="history-notice" role="status">{notice}</p>}
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="history-body">
        <div className="history-diff" data-testid="history-diff">
          <div className="diff-labels"><span>Revision {sel ?? ''} (read-only)</span><span>Current text</span></div>
          <DiffEditor
            theme="vs-dark"
            language={language}
            original={revision?.content ?? ''}
            modified={current}
            keepCurrentOriginalModel
            keepCurrentModifiedModel
            onMount={(diff) => {
              diffEditor.current = diff
              // Exposed for end-to-end tests: the diff shown.
              ;(window as unknown as { gdocDiffEditor?: unknown }).gdocDiffEditor = diff
            }}
            options={{ readOnly: true, originalEditable: false, automaticLayout: true, minimap: { enabled: false }, renderSideBySide: true, scrollBeyondLastLine: false }}
          />
        </div>
        <ol className="history-sessions" aria-label="Editing sessions">
          {entries.map((e) => (
            <li key={`${e.from_rev}-${e.to_rev}`}>
              <button type="button" className={`session ${sel !== null && sel > e.from_rev && sel <= e.to_rev ? 'selected' : ''}`} onClick={() => choose(e.to_rev)}>
                <span className="session-authors">
                  {e.authors.map((a) => (
                    <span key={a.user_id} className="session-author">
                      <span className="avatar-dot tiny" style={{ backgroundColor: safeColor(a.color) }} aria-hidden="true" />
                      {a.username || 'deleted user'}
                    </span>
                  ))}
                </span>
                <span className="session-meta">
                  {e.kind === 'restore' ? `Restored revision ${e.restored_rev} · ` : ''}
                  {when(e.started_at)} · revisions {e.from_rev + 1}–{e.to_rev} · <span className="ins">+{e.inserted}</span> <span className="del">−{e.deleted}</span>
                </span>
              </button>
            </li>
          ))}
          {page !== null && entries.length === 0 && <li className="hint">No edits yet.</li>}
          {hasOlder && (
            <li><button type="button" className="ghost small" onClick={() => void loadOlder()}>Show older sessions</button></li>
          )}
        </ol>
      </div>
    </section>
  )
}
