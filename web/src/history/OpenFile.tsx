// Open file… on the dashboard, and dropping a file onto it: a new document
// from a local text file, its language taken from the extension.

import { useRef, useState, type DragEvent, type ReactNode } from 'react'
import { ApiError, api } from '../api'
import { editorLanguage } from '../editor/languages'
import { navigate } from '../router'

// The server refuses request bodies over 1 MiB (MAX_BODY_BYTES by default).
const MAX_FILE_BYTES = 900 * 1024

async function readText(file: File): Promise<string> {
  if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name} is too large to open (${Math.ceil(file.size / 1024)} KiB; the limit is about 900 KiB).`)
  const bytes = new Uint8Array(await file.arrayBuffer())
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/\r\n?/g, '\n')
  } catch {
    throw new Error(`${file.name} is not a text file (it is not valid UTF-8).`)
  }
}

/** openFile creates a document from file and opens it. */
async function openFile(file: File): Promise<void> {
  const content = await readText(file)
  const title = file.name.trim().slice(0, 200) || 'Untitled'
  // A known extension picks the language here; otherwise the server guesses from the title.
  const language = editorLanguage('plaintext', title)
  const doc = await api.createDocument({ title, content, ...(language !== 'plaintext' ? { language } : {}) })
  navigate(`/d/${encodeURIComponent(doc.id)}`)
}

function problem(err: unknown): string {
  return err instanceof ApiError || err instanceof Error ? err.message : 'Could not open the file.'
}

/** OpenFileButton is the dashboard's "Open file…" button. */
export function OpenFileButton() {
  const input = useRef<HTMLInputElement>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  return (
    <div className="open-file">
      <button type="button" className="ghost" disabled={busy} onClick={() => input.current?.click()}>Open file…</button>
      <input ref={input} type="file" hidden data-testid="open-file-input" onChange={async (e) => {
        const f = e.target.files?.[0]
        e.target.value = ''
        if (!f) return
        setBusy(true)
        setError(null)
        try {
          await openFile(f)
        } catch (err) {
          setError(problem(err))
        } finally {
          setBusy(false)
        }
      }} />
      {error && <p className="form-error" role="alert">{error}</p>}
    </div>
  )
}

/** FileDropZone turns a file dropped anywhere on its children into a document. */
export function FileDropZone({ children }: { children: ReactNode }) {
  const [over, setOver] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer.types).includes('Files')
  return (
    <div
      className={`drop-zone ${over ? 'drop-over' : ''}`}
      onDragOver={(e) => {
        if (!hasFiles(e)) return
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={async (e) => {
        if (!hasFiles(e)) return
        e.preventDefault()
        setOver(false)
        const f = e.dataTransfer.files[0]
        if (!f) return
        setError(null)
        try {
          await openFile(f)
        } catch (err) {
          setError(problem(err))
        }
      }}
    >
      {over && <div className="drop-hint" aria-hidden="true">Drop the file to open it as a new document</div>}
      {error && <p className="form-error drop-error" role="alert">{error}</p>}
      {children}
    </div>
  )
}
