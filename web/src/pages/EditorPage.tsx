// The editor page for /d/:id: header (title, language, people), Monaco bound
// to the document session, connection status and chat.

import '../editor/monacoSetup'
import Editor from '@monaco-editor/react'
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { ApiError, api, wsUrl } from '../api'
import { clearAuth, getAuth, getToken } from '../auth'
import { DocumentSession } from '../collab/session'
import { ChatPanel } from '../components/ChatPanel'
import { bindEditor } from '../editor/binding'
import { LANGUAGES, editorLanguage } from '../editor/languages'
import type { Monaco } from '../editor/monacoSetup'
import { CLOSE_CODES } from '../protocol'
import { HistoryTools } from '../history/HistoryTools'
import { navigate } from '../router'
import { AccessHeader } from '../sharing/AccessHeader'
import { useDocumentAccess } from '../sharing/useDocumentAccess'
import { CommentsPanel, CommentsToggle } from '../review/CommentsPanel'
import { FollowBanner, PeopleList, PresentButton } from '../review/FollowControls'
import { useReview } from '../review/useReview'

type CodeEditor = Parameters<typeof bindEditor>[0]

// The page is keyed by docId (App), so one page is one session. The session
// is built once per page (useState's initializer, not a useMemo cache React
// may drop) and does nothing until the effect starts it.
export default function EditorPage({ docId }: { docId: string }) {
  const [session] = useState(
    () =>
      new DocumentSession({
        docId,
        token: getToken,
        wsUrl,
        fetchOlderChat: (before) => api.chatBefore(docId, before),
        storage: localStorage,
        userId: getAuth()?.user.id,
        onRefused: (code) => {
          if (code === CLOSE_CODES.unauthenticated) {
            clearAuth()
            navigate(`/login?next=${encodeURIComponent(location.pathname)}`, true)
          }
        },
      }),
  )
  const snap = useSyncExternalStore(session.subscribe, session.getSnapshot)
  const review = useReview(docId, session)
  // A language picked here, until the server's language moves on from `base`.
  const [languagePick, setLanguagePick] = useState<{ lang: string; base: string } | null>(null)
  const [langError, setLangError] = useState<string | null>(null)
  const unbind = useRef<(() => void) | null>(null)
  const access = useDocumentAccess(docId, snap.loaded, snap.role ?? undefined)
  const viewOnly = access.role === 'viewer'
  const [mounted, setMounted] = useState<{ ed: CodeEditor; monaco: Monaco } | null>(null)

  useEffect(() => {
    session.start()
    // Exposed for end-to-end tests and debugging: the session's text and state.
    ;(window as unknown as { gdocSession?: DocumentSession }).gdocSession = session
    return () => {
      unbind.current?.()
      unbind.current = null
      session.stop()
    }
  }, [session])

  useEffect(() => {
    document.title = `${snap.title} · G-Doc`
    return () => {
      document.title = 'G-Doc'
    }
  }, [snap.title])

  // A language picked here shows at once; the server's "document" message
  // (to every editor, this one included) then takes over: once the server's
  // language moves on from the one the pick was made against, the pick is
  // dropped (state adjusted while rendering, as React's docs show, not in an effect).
  if (languagePick && languagePick.base !== snap.language) setLanguagePick(null)
  const language = languagePick && languagePick.base === snap.language ? languagePick.lang : snap.language
  const highlight = editorLanguage(language, snap.title)

  const onMount = (ed: CodeEditor, monaco: Monaco) => {
    unbind.current?.()
    unbind.current = bindEditor(ed, monaco, session)
    review.bind(ed, monaco)
    ;(window as unknown as { gdocEditor?: CodeEditor }).gdocEditor = ed
    setMounted({ ed, monaco })
    ed.focus()
  }

  const changeLanguage = async (lang: string) => {
    setLanguagePick({ lang, base: snap.language })
    setLangError(null)
    try {
      await api.updateDocument(docId, { language: lang })
    } catch (err) {
      setLangError(err instanceof ApiError ? err.message : 'Could not change the language')
    }
  }

  const status =
    snap.refusal !== null
      ? 'Disconnected'
      : snap.status === 'connected'
        ? 'Connected'
        : snap.status === 'offline'
          ? 'Offline'
          : snap.status === 'reconnecting'
            ? 'Reconnecting…'
            : 'Connecting…'
  // After a refusal only "the server has an older copy" is worth a manual
  // retry; a deleted or forbidden document, a sign-in or a too-large edit is not.
  const canReconnect = snap.status !== 'connected' && (snap.refusal === null || snap.refusal === CLOSE_CODES.bad_revision)

  return (
    <div className="editor-page">
      <header className="doc-header">
        <a className="back" href="/" aria-label="Back to documents" onClick={(e) => { e.preventDefault(); navigate('/') }}>←</a>
        <div className="doc-heading">
          <h1 className="doc-name" title={snap.title}>{snap.title}</h1>
          <span className="doc-id">{docId}</span>
        </div>
        <label className="lang-select">
          <span className="visually-hidden">Language</span>
          <select aria-label="Language" disabled={viewOnly} value={LANGUAGES.some((l) => l.id === language) ? language : 'plaintext'} onChange={(e) => void changeLanguage(e.target.value)}>
            {LANGUAGES.map((l) => (
              <option key={l.id} value={l.id}>{l.label}</option>
            ))}
          </select>
        </label>
        <HistoryTools docId={docId} liveRev={snap.rev} language={highlight} editor={mounted} canRestore={getAuth() !== null && !viewOnly} />
        <AccessHeader docId={docId} access={access} myUserId={getAuth()?.user.id} />
        <CommentsToggle review={review.review} />
        <PresentButton follow={review.follow} />
        <div className="people" role="group" aria-label="Active users">
          <span className="user-count" data-testid="user-count">{snap.users.length} active</span>
          <PeopleList follow={review.follow} users={snap.users} myId={snap.me?.user_id} />
        </div>
      </header>
      <div className={`status-bar status-${snap.status}`} role="status" aria-live="polite" data-testid="sync-status">
        <span className="status-dot" aria-hidden="true" />
        <span>{status}</span>
        <span className="unsaved" data-testid="unsaved">
          {snap.unsaved === 0
            ? 'All changes saved'
            : snap.savingPaused
              ? `Saving paused: the server cannot store edits right now. ${snap.unsaved} unsaved edit${snap.unsaved === 1 ? ' is' : 's are'} kept and will be sent when it recovers.`
              : `${snap.unsaved} unsaved edit${snap.unsaved === 1 ? '' : 's'}`}
        </span>
        <span className="rev">rev {snap.rev}</span>
        {canReconnect && (
          <button type="button" className="ghost small" onClick={() => session.reconnect()}>Reconnect now</button>
        )}
        {snap.refusal !== null && !canReconnect && (
          <a href="/" className="small" onClick={(e) => { e.preventDefault(); navigate('/') }}>Back to your documents</a>
        )}
        {(snap.problem || langError) && <span className="problem" role="alert">{snap.problem ?? langError}</span>}
      </div>
      <FollowBanner follow={review.follow} />
      <div className="editor-wrap">
        {!snap.loaded && <div className="editor-loading" role="status">Loading document…</div>}
        <Editor
          theme="vs-dark"
          language={highlight}
          defaultValue=""
          onMount={onMount}
          loading={<div className="editor-loading" role="status">Loading editor…</div>}
          options={{
            automaticLayout: true,
            minimap: { enabled: false },
            fontSize: 14,
            scrollBeyondLastLine: false,
            wordWrap: 'on',
            ariaLabel: 'Document editor',
            // Until the first init there is no session text to edit: keys would be lost.
            // A viewer reads only.
            readOnly: !snap.loaded || viewOnly,
            readOnlyMessage: { value: viewOnly ? 'You can view this document but not edit it.' : 'Loading the document…' },
          }}
        />
      </div>
      <CommentsPanel review={review.review} myId={snap.me?.user_id} />
      <ChatPanel session={session} snap={snap} review={review} />
    </div>
  )
}
