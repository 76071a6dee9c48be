// The editor header's History, Blame and Download buttons, with the History
// panel and the blame layer they open.

import { useEffect, useRef, useState } from 'react'
import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import { ApiError } from '../api'
import type { Monaco } from '../editor/monacoSetup'
import { BlameLayer } from './blame'
import { HistoryPanel } from './HistoryPanel'
import { historyApi, safeColor, type BlameLine } from './historyApi'

interface Props {
  docId: string
  liveRev: number
  language: string
  editor: { ed: MonacoEditorNS.IStandaloneCodeEditor; monaco: Monaco } | null
  canRestore: boolean
}

export function HistoryTools({ docId, liveRev, language, editor, canRestore }: Props) {
  const [open, setOpen] = useState(false)
  const [blameOn, setBlameOn] = useState(false)
  const [blameError, setBlameError] = useState<string | null>(null)
  const [blameAuthors, setBlameAuthors] = useState<{ id: string; name: string; color: string }[]>([])
  const [downloadError, setDownloadError] = useState<string | null>(null)
  const layer = useRef<BlameLayer | null>(null)

  useEffect(() => {
    if (!blameOn || !editor) return
    const l = new BlameLayer(editor.ed, editor.monaco, docId, setBlameError, (lines: BlameLine[]) => {
      const seen = new Map<string, { id: string; name: string; color: string }>()
      for (const line of lines) {
        if (line.user_id && !seen.has(line.user_id)) seen.set(line.user_id, { id: line.user_id, name: line.username, color: line.color })
      }
      setBlameAuthors([...seen.values()])
    })
    layer.current = l
    void l.refresh()
    return () => {
      l.dispose()
      layer.current = null
      setBlameAuthors([])
      setBlameError(null)
    }
  }, [blameOn, editor, docId])

  // Follow live edits: attribute again shortly after the revision moves.
  useEffect(() => {
    if (!blameOn) return
    const t = setTimeout(() => void layer.current?.refresh(), 500)
    return () => clearTimeout(t)
  }, [blameOn, liveRev])

  const download = async () => {
    setDownloadError(null)
    try {
      await historyApi.download(docId)
    } catch (err) {
      setDownloadError(err instanceof ApiError ? err.message : 'Could not download the document.')
    }
  }

  return (
    <>
      <div className="history-tools" role="group" aria-label="History tools">
        <button type="button" className="ghost small" aria-expanded={open} onClick={() => setOpen((o) => !o)}>History</button>
        <button type="button" className="ghost small" aria-pressed={blameOn} disabled={!editor} onClick={() => setBlameOn((b) => !b)}
          title="Show who last changed each line">Blame</button>
        <button type="button" className="ghost small" onClick={() => void download()}>Download</button>
        {blameOn && (
          <span className="blame-legend" data-testid="blame-legend">
            {blameError ? <span role="alert">{blameError}</span> : blameAuthors.length === 0 ? 'No edits by anyone yet' : blameAuthors.map((a) => (
              <span key={a.id} className="session-author">
                <span className="avatar-dot tiny" style={{ backgroundColor: safeColor(a.color) }} aria-hidden="true" />
                {a.name}
              </span>
            ))}
          </span>
        )}
        {downloadError && <span className="problem" role="alert">{downloadError}</span>}
      </div>
      {open && (
        <HistoryPanel
          docId={docId}
          current={editor?.ed.getValue() ?? ''}
          liveRev={liveRev}
          language={language}
          canRestore={canRestore}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  )
}
