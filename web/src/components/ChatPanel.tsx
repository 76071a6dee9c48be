// The floating chat: a 💬 bubble with an unread badge, opening a panel with
// the document's messages. Names and messages are rendered as text.

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { DocumentSession, SessionSnapshot } from '../collab/session'
import { reviewBus } from '../review/bus'
import { ChatText } from '../review/ChatText'
import type { ReviewPage } from '../review/useReview'

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })

export function ChatPanel({ session, snap, review }: { session: DocumentSession; snap: SessionSnapshot; review?: ReviewPage }) {
  const [open, setOpen] = useState(false)
  const [draft, setDraft] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [loadingOlder, setLoadingOlder] = useState(false)
  const listRef = useRef<HTMLOListElement>(null)

  useEffect(() => {
    session.setChatOpen(open)
  }, [open, session])

  // "Share selection in chat": the link goes into the draft.
  useEffect(
    () =>
      reviewBus.shares.on((link) => {
        setOpen(true)
        setDraft((d) => (d && !d.endsWith(' ') ? `${d} ${link} ` : `${d}${link} `))
      }),
    [],
  )

  useEffect(() => {
    const el = listRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [snap.chat.length, open])

  const send = (e?: FormEvent) => {
    e?.preventDefault()
    const problem = session.sendChat(review ? review.stamp(draft) : draft)
    setError(problem)
    if (!problem) setDraft('')
  }

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      send()
    }
  }

  const loadOlder = async () => {
    setLoadingOlder(true)
    try {
      await session.loadOlderChat()
    } catch {
      setError('Could not load older messages')
    } finally {
      setLoadingOlder(false)
    }
  }

  return (
    <>
      <button
        type="button"
        className="chat-bubble"
        aria-label={open ? 'Close chat' : snap.unreadChat > 0 ? `Open chat, ${snap.unreadChat} unread` : 'Open chat'}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">💬</span>
        {snap.unreadChat > 0 && !open && (
          <span className="chat-badge" data-testid="chat-unread">{snap.unreadChat}</span>
        )}
      </button>
      {open && (
        <section className="chat-panel" aria-label="Chat">
          <header className="chat-head">
            <h2>Chat</h2>
            <button type="button" className="ghost small" aria-label="Close chat panel" onClick={() => setOpen(false)}>✕</button>
          </header>
          {snap.olderChat && (
            <button type="button" className="ghost small older" onClick={() => void loadOlder()} disabled={loadingOlder}>
              {loadingOlder ? 'Loading…' : 'Load older messages'}
            </button>
          )}
          <ol className="chat-list" role="log" aria-label="Message history" ref={listRef}>
            {snap.chat.length === 0 && <li className="hint">No messages yet.</li>}
            {snap.chat.map((m) => (
              <li key={m.key} className={`chat-msg${m.user_id === snap.me?.user_id ? ' mine' : ''}${m.pending ? ' pending' : ''}`} data-testid="chat-message">
                <div className="chat-meta">
                  <span className="chat-user">{m.username}</span>
                  <time dateTime={new Date(m.timestamp * 1000).toISOString()}>{timeFormat.format(new Date(m.timestamp * 1000))}</time>
                  {m.pending && <span className="chat-pending">sending…</span>}
                </div>
                <div className="chat-text">
                  {review ? <ChatText message={m.message} onOpen={(link) => void review.review.openLink(link).then(setError)} /> : m.message}
                </div>
              </li>
            ))}
          </ol>
          <form className="chat-form" onSubmit={send}>
            <textarea
              aria-label="Chat message"
              rows={1}
              value={draft}
              maxLength={2000}
              placeholder="Message… (Enter to send)"
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
            />
            <button type="submit">Send</button>
          </form>
          {error && <p className="form-error" role="alert">{error}</p>}
        </section>
      )}
    </>
  )
}
