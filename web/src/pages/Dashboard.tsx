// The dashboard: your documents and public ones, create a document, join one by id.

import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, api } from '../api'
import { clearAuth, useAuth } from '../auth'
import { LANGUAGES, editorLanguage } from '../editor/languages'
import type { DocumentSummary } from '../protocol'
import { DOCUMENT_ID_PATTERN } from '../protocol'
import { FileDropZone, OpenFileButton } from '../history/OpenFile'
import { navigate } from '../router'
import { docMeta, splitDocuments } from '../sharing/lists'

export function Dashboard() {
  const auth = useAuth()
  const [docs, setDocs] = useState<DocumentSummary[] | null>(null)
  const [listError, setListError] = useState<string | null>(null)
  const [title, setTitle] = useState('')
  const [language, setLanguage] = useState('plaintext')
  const [createError, setCreateError] = useState<string | null>(null)
  const [joinId, setJoinId] = useState('')
  const [joinError, setJoinError] = useState<string | null>(null)
  const [copied, setCopied] = useState<string | null>(null)

  useEffect(() => {
    let live = true
    api.listDocuments().then(
      (list) => {
        if (!live) return
        setDocs(list)
        setListError(null)
      },
      (err: unknown) => {
        if (live) setListError(err instanceof ApiError ? err.message : 'Could not load documents')
      },
    )
    return () => {
      live = false
    }
  }, [])

  const create = async (e: FormEvent) => {
    e.preventDefault()
    setCreateError(null)
    const t = title.trim()
    if (!t) {
      setCreateError('Give the document a title')
      return
    }
    try {
      const lang = language === 'plaintext' ? editorLanguage('plaintext', t) : language
      const doc = await api.createDocument({ title: t, content: '', language: lang })
      navigate(`/d/${encodeURIComponent(doc.id)}`)
    } catch (err) {
      setCreateError(err instanceof ApiError ? err.message : 'Could not create the document')
    }
  }

  const join = (e: FormEvent) => {
    e.preventDefault()
    const id = joinId.trim()
    if (!DOCUMENT_ID_PATTERN.test(id)) {
      setJoinError('A document id is 1-64 letters, digits, "-" or "_", starting with a letter or digit')
      return
    }
    setJoinError(null)
    navigate(`/d/${encodeURIComponent(id)}`)
  }

  const copyLink = async (id: string) => {
    const link = `${location.origin}/d/${encodeURIComponent(id)}`
    try {
      await navigator.clipboard.writeText(link)
      setCopied(id)
    } catch {
      window.prompt('Copy this link', link)
    }
  }

  const logout = async () => {
    try {
      await api.logout()
    } catch {
      /* the token is dropped locally either way */
    }
    clearAuth()
    navigate('/login', true)
  }

  const { mine, shared, others } = splitDocuments(docs ?? [], auth?.user.id)

  return (
    <FileDropZone>
    <div className="dashboard">
      <header className="app-header">
        <h1 className="brand">G-Doc</h1>
        <div className="header-right">
          <span className="whoami">Signed in as {auth?.user.username}</span>
          <button type="button" className="ghost" onClick={logout}>Log out</button>
        </div>
      </header>
      <main className="page">
        <section className="cards">
          <form className="card" onSubmit={join} aria-labelledby="join-title">
            <h2 id="join-title">Join a document</h2>
            <p className="hint">Enter a document ID (for example “my-project”) and share it with collaborators. A new ID creates the document.</p>
            <label>
              Document ID
              <input value={joinId} onChange={(e) => setJoinId(e.target.value)} placeholder="my-project" autoCapitalize="off" spellCheck={false} />
            </label>
            {joinError && <p className="form-error" role="alert">{joinError}</p>}
            <button type="submit">Join document</button>
          </form>
          <form className="card" onSubmit={create} aria-labelledby="create-title">
            <h2 id="create-title">New document</h2>
            <label>
              Title
              <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="main.go" />
            </label>
            <label>
              Language
              <select value={language} onChange={(e) => setLanguage(e.target.value)}>
                {LANGUAGES.map((l) => (
                  <option key={l.id} value={l.id}>{l.label}</option>
                ))}
              </select>
            </label>
            {createError && <p className="form-error" role="alert">{createError}</p>}
            <button type="submit">Create document</button>
            <OpenFileButton />
          </form>
        </section>
        {listError && <p className="form-error" role="alert">{listError}</p>}
        {docs === null && !listError && <p role="status">Loading documents…</p>}
        <DocList title="Your documents" docs={mine} copied={copied} onCopy={copyLink} empty="You have no documents yet." />
        <DocList title="Shared with you" docs={shared} copied={copied} onCopy={copyLink} empty="Nothing has been shared with you yet." />
        <DocList title="Public documents" docs={others} copied={copied} onCopy={copyLink} empty="No public documents from others." />
      </main>
    </div>
    </FileDropZone>
  )
}

function DocList(props: {
  title: string
  docs: DocumentSummary[]
  empty: string
  copied: string | null
  onCopy: (id: string) => void
}) {
  return (
    <section aria-label={props.title} className="doc-section">
      <h2>{props.title}</h2>
      {props.docs.length === 0 ? (
        <p className="hint">{props.empty}</p>
      ) : (
        <ul className="doc-list">
          {props.docs.map((d) => (
            <li key={d.id} className="doc-item">
              <a href={`/d/${encodeURIComponent(d.id)}`} onClick={(e) => { e.preventDefault(); navigate(`/d/${encodeURIComponent(d.id)}`) }}>
                <span className="doc-title">{d.title}</span>
                <span className="doc-meta">{docMeta(d)}</span>
              </a>
              <button type="button" className="ghost small" aria-label={`Copy share link for ${d.title}`} onClick={() => props.onCopy(d.id)}>
                {props.copied === d.id ? 'Copied' : 'Copy link'}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
