// The comments side panel: the composer for a thread on the selection, and
// the list of threads (open, resolved, mine) with their replies. Bodies are
// rendered as text, with @mentions highlighted.

import { useState, useSyncExternalStore, type FormEvent, type KeyboardEvent } from 'react'
import type { Comment, Review, Thread } from './review'
import { linesOf } from './links'

type Filter = 'open' | 'resolved' | 'mine'

const timeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })

/** Mentions renders a comment body as text with @username highlighted. */
export function Mentions({ text }: { text: string }) {
  const parts = text.split(/(@[A-Za-z0-9_.-]+)/g)
  return (
    <>
      {parts.map((p, i) => (p.startsWith('@') && i % 2 === 1 ? <mark key={i} className="mention">{p}</mark> : <span key={i}>{p}</span>))}
    </>
  )
}

export function CommentsToggle({ review }: { review: Review }) {
  const snap = useSyncExternalStore(review.subscribe, review.getSnapshot)
  const open = snap.threads.filter((t) => !t.root.resolved).length
  return (
    <button type="button" className="ghost small comments-toggle" aria-expanded={snap.panelOpen} onClick={() => review.setPanelOpen(!snap.panelOpen)}>
      Comments{open > 0 ? ` (${open})` : ''}
    </button>
  )
}

export function CommentsPanel({ review, myId }: { review: Review; myId: string | undefined }) {
  const snap = useSyncExternalStore(review.subscribe, review.getSnapshot)
  const [filter, setFilter] = useState<Filter>('open')
  if (!snap.panelOpen) return null
  const shown = snap.threads.filter((t) =>
    filter === 'open' ? !t.root.resolved : filter === 'resolved' ? t.root.resolved : t.root.user_id === myId || t.replies.some((r) => r.user_id === myId),
  )
  return (
    <aside className="comments-panel" aria-label="Comments">
      <header className="comments-head">
        <h2>Comments</h2>
        <button type="button" className="ghost small" aria-label="Close comments" onClick={() => review.setPanelOpen(false)}>✕</button>
      </header>
      {snap.draft && <Composer review={review} lines={snap.draft.lines} />}
      <div className="comments-filters" role="tablist" aria-label="Show">
        {(['open', 'resolved', 'mine'] as Filter[]).map((f) => (
          <button key={f} type="button" role="tab" aria-selected={filter === f} className={`ghost small${filter === f ? ' active' : ''}`} onClick={() => setFilter(f)}>
            {f === 'open' ? 'Open' : f === 'resolved' ? 'Resolved' : 'Mine'}
          </button>
        ))}
      </div>
      {snap.problem && <p className="form-error" role="alert">{snap.problem}</p>}
      <ol className="thread-list">
        {snap.loaded && shown.length === 0 && (
          <li className="hint">{filter === 'open' ? 'No open threads. Select code and choose "Comment" (Ctrl+Alt+M).' : 'Nothing here.'}</li>
        )}
        {shown.map((t) => (
          <ThreadView key={t.root.id} review={review} thread={t} myId={myId} ownerId={snap.ownerId} focused={snap.focused === t.root.id} />
        ))}
      </ol>
    </aside>
  )
}

function Composer({ review, lines }: { review: Review; lines: string }) {
  const [body, setBody] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (e?: FormEvent) => {
    e?.preventDefault()
    if (!body.trim()) return setError('Write something first.')
    setBusy(true)
    const problem = await review.submitDraft(body)
    setBusy(false)
    setError(problem)
    if (!problem) setBody('')
  }
  return (
    <form className="comment-composer" onSubmit={submit}>
      <label>
        <span>Comment on {lines}</span>
        <textarea autoFocus aria-label="New comment" rows={3} value={body} maxLength={10000} onChange={(e) => setBody(e.target.value)} onKeyDown={submitOnCtrlEnter(submit)} />
      </label>
      <div className="comment-actions">
        <button type="submit" disabled={busy}>{busy ? 'Posting…' : 'Comment'}</button>
        <button type="button" className="ghost" onClick={() => review.cancelDraft()}>Cancel</button>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
    </form>
  )
}

function submitOnCtrlEnter(submit: () => void) {
  return (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault()
      submit()
    }
  }
}

function ThreadView({ review, thread, myId, ownerId, focused }: { review: Review; thread: Thread; myId: string | undefined; ownerId: string | null; focused: boolean }) {
  const [reply, setReply] = useState('')
  const [error, setError] = useState<string | null>(null)
  const { root, replies, range } = thread
  const run = async (p: Promise<string | null>) => setError(await p)
  const sendReply = async (e?: FormEvent) => {
    e?.preventDefault()
    if (!reply.trim()) return
    const problem = await review.reply(root.id, reply)
    setError(problem)
    if (!problem) setReply('')
  }
  let where = 'where?'
  if (root.detached || range?.detached) where = 'code deleted'
  else if (range) {
    const { startLine, endLine } = linesOf(review.session.text, range.from, range.to)
    where = startLine === endLine ? `L${startLine}` : `L${startLine}-L${endLine}`
  }
  return (
    <li className={`thread${focused ? ' focused' : ''}${root.resolved ? ' resolved' : ''}`} data-testid="comment-thread" data-thread-id={root.id}>
      <button type="button" className="thread-where ghost small" onClick={() => review.focus(root.id)} title="Show in the editor">
        {where}
      </button>
      {root.quote && <pre className={`thread-quote${root.detached ? ' detached' : ''}`}>{root.quote.split('\n').slice(0, 3).join('\n')}</pre>}
      {root.detached && <p className="hint">The code this thread was on was deleted.</p>}
      {[root, ...replies].map((c) => (
        <CommentView key={c.id} review={review} comment={c} mine={c.user_id === myId} canDelete={c.user_id === myId || ownerId === myId} onError={setError} />
      ))}
      <div className="thread-actions">
        <button type="button" className="ghost small" onClick={() => void run(review.setResolved(root.id, !root.resolved))}>
          {root.resolved ? 'Reopen' : 'Resolve'}
        </button>
      </div>
      {!root.resolved && (
        <form className="reply-form" onSubmit={sendReply}>
          <textarea aria-label="Reply" rows={1} value={reply} maxLength={10000} placeholder="Reply… (Ctrl+Enter)" onChange={(e) => setReply(e.target.value)} onKeyDown={submitOnCtrlEnter(sendReply)} />
          <button type="submit" className="small">Reply</button>
        </form>
      )}
      {error && <p className="form-error" role="alert">{error}</p>}
    </li>
  )
}

function CommentView({ review, comment, mine, canDelete, onError }: { review: Review; comment: Comment; mine: boolean; canDelete: boolean; onError: (e: string | null) => void }) {
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState(comment.body)
  const save = async (e?: FormEvent) => {
    e?.preventDefault()
    const problem = await review.edit(comment.id, draft)
    onError(problem)
    if (!problem) setEditing(false)
  }
  return (
    <div className="comment" data-testid="comment">
      <div className="comment-meta">
        <span className="comment-user">{comment.username}</span>
        <time dateTime={comment.created_at}>{timeFormat.format(new Date(comment.created_at))}</time>
        {comment.updated_at !== comment.created_at && <span className="hint">(edited)</span>}
        {mine && !editing && <button type="button" className="link-button" onClick={() => setEditing(true)}>Edit</button>}
        {canDelete && (
          <button type="button" className="link-button" onClick={() => { if (confirm(comment.parent_id === null ? 'Delete this thread and its replies?' : 'Delete this reply?')) void review.remove(comment.id).then(onError) }}>
            Delete
          </button>
        )}
      </div>
      {editing ? (
        <form onSubmit={save}>
          <textarea aria-label="Edit comment" rows={2} value={draft} maxLength={10000} onChange={(e) => setDraft(e.target.value)} onKeyDown={submitOnCtrlEnter(save)} />
          <div className="comment-actions">
            <button type="submit" className="small">Save</button>
            <button type="button" className="ghost small" onClick={() => setEditing(false)}>Cancel</button>
          </div>
        </form>
      ) : (
        <div className="comment-body"><Mentions text={comment.body} /></div>
      )}
    </div>
  )
}
