// The Share dialog of the editor header: visibility and link role, the
// members with their roles, adding a member by username, copying the link
// and transferring ownership. The owner edits; everyone else sees it
// read-only. Every change is checked by the server; its answer is shown.

import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, api } from '../api'
import type { Document, Member, Visibility } from '../protocol'
import { ROLE_LABEL, VISIBILITY_LABEL, shareLink } from './access'

function message(err: unknown, fallback: string): string {
  return err instanceof ApiError ? err.message : fallback
}

export function ShareDialog(props: { docId: string; myUserId?: string; onClose: () => void; onChanged: () => void }) {
  const { docId, onClose, onChanged } = props
  const [doc, setDoc] = useState<Document | null>(null)
  const [members, setMembers] = useState<Member[]>([])
  const [error, setError] = useState<string | null>(null)
  const [note, setNote] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [newName, setNewName] = useState('')
  const [newRole, setNewRole] = useState<'editor' | 'viewer'>('viewer')
  const [newOwner, setNewOwner] = useState('')

  // version counts the changes made here: each reloads the dialog.
  const [version, setVersion] = useState(0)

  useEffect(() => {
    let live = true
    Promise.all([api.getDocument(docId), api.members(docId)]).then(
      ([d, m]) => {
        if (!live) return
        setDoc(d)
        setMembers(m)
      },
      (err: unknown) => {
        if (live) setError(message(err, 'Could not load who has access.'))
      },
    )
    return () => {
      live = false
    }
  }, [docId, version])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  const isOwner = doc?.role === 'owner'

  // run performs one change, then reloads the dialog and tells the page.
  const run = async (what: () => Promise<unknown>, done: string, fallback: string) => {
    setBusy(true)
    setError(null)
    setNote(null)
    try {
      await what()
      setNote(done)
      setVersion((v) => v + 1)
      onChanged()
    } catch (err) {
      setError(message(err, fallback))
    } finally {
      setBusy(false)
    }
  }

  const addMember = (e: FormEvent) => {
    e.preventDefault()
    const name = newName.trim()
    if (!name) {
      setError('Enter the username of the person to add.')
      return
    }
    void run(async () => {
      await api.setMember(docId, name, newRole)
      setNewName('')
    }, `${name} can now ${newRole === 'editor' ? 'edit' : 'view'} this document.`, 'Could not add that person.')
  }

  const copy = async () => {
    const link = shareLink(docId)
    try {
      await navigator.clipboard.writeText(link)
      setNote('Link copied.')
    } catch {
      window.prompt('Copy this link', link)
    }
  }

  const others = members.filter((m) => m.role !== 'owner')
  const me = members.find((m) => m.user_id === props.myUserId)

  return (
    <div className="share-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="share-dialog" role="dialog" aria-modal="true" aria-labelledby="share-title">
        <h2 id="share-title">Share “{doc?.title ?? docId}”</h2>
        {!doc && !error && <p role="status">Loading…</p>}
        {doc && !isOwner && (
          <p className="hint">Only the owner, {doc.owner_username}, can change who has access. You are {doc.role ? `a ${ROLE_LABEL[doc.role].toLowerCase()}` : 'not signed in'}.</p>
        )}
        {doc && (
          <section aria-label="General access">
            <h3>General access</h3>
            <div className="share-row">
              <label>
                Who can open it
                <select
                  aria-label="Visibility"
                  value={doc.visibility ?? (doc.is_public ? 'public' : 'private')}
                  disabled={!isOwner || busy}
                  onChange={(e) => {
                    const v = e.target.value as Visibility
                    void run(() => api.updateDocument(docId, { visibility: v }), 'General access changed.', 'Could not change the access.')
                  }}
                >
                  {(Object.keys(VISIBILITY_LABEL) as Visibility[]).map((v) => (
                    <option key={v} value={v}>{VISIBILITY_LABEL[v]}</option>
                  ))}
                </select>
              </label>
              <label>
                They can
                <select
                  aria-label="Link role"
                  value={doc.link_role ?? 'editor'}
                  disabled={!isOwner || busy || doc.visibility === 'private'}
                  onChange={(e) => {
                    const r = e.target.value as 'editor' | 'viewer'
                    void run(() => api.updateDocument(docId, { link_role: r }), 'General access changed.', 'Could not change the access.')
                  }}
                >
                  <option value="editor">Edit</option>
                  <option value="viewer">View only</option>
                </select>
              </label>
              <button type="button" className="ghost" onClick={() => void copy()}>Copy link</button>
            </div>
          </section>
        )}
        {doc && (
          <section aria-label="People with access">
            <h3>People with access</h3>
            <ul className="share-members">
              {members.map((m) => (
                <li key={m.user_id} className="share-member" data-testid={`member-${m.username}`}>
                  <span className="member-name">{m.username}{m.user_id === props.myUserId ? ' (you)' : ''}</span>
                  {m.role === 'owner' || !isOwner ? (
                    <span className="doc-badge">{ROLE_LABEL[m.role]}</span>
                  ) : (
                    <>
                      <select
                        aria-label={`Role of ${m.username}`}
                        value={m.role}
                        disabled={busy}
                        onChange={(e) => {
                          const r = e.target.value as 'editor' | 'viewer'
                          void run(() => api.setMember(docId, m.username, r), `${m.username} is now ${r === 'editor' ? 'an editor' : 'a viewer'}.`, 'Could not change the role.')
                        }}
                      >
                        <option value="editor">Editor</option>
                        <option value="viewer">Viewer</option>
                      </select>
                      <button type="button" className="ghost small" aria-label={`Remove ${m.username}`} disabled={busy}
                        onClick={() => void run(() => api.removeMember(docId, m.username), `${m.username} no longer has access.`, 'Could not remove them.')}>
                        Remove
                      </button>
                    </>
                  )}
                </li>
              ))}
            </ul>
            {isOwner && (
              <form className="share-row" onSubmit={addMember}>
                <label>
                  Add a person by username
                  <input aria-label="Username to add" value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="bob" autoCapitalize="off" spellCheck={false} />
                </label>
                <label>
                  As
                  <select aria-label="Role for the new member" value={newRole} onChange={(e) => setNewRole(e.target.value as 'editor' | 'viewer')}>
                    <option value="viewer">Viewer</option>
                    <option value="editor">Editor</option>
                  </select>
                </label>
                <button type="submit" disabled={busy}>Add</button>
              </form>
            )}
            {!isOwner && me && me.role !== 'owner' && (
              <button type="button" className="ghost" disabled={busy}
                onClick={() => void run(() => api.removeMember(docId, me.username), 'You left this document.', 'Could not leave.')}>
                Leave this document
              </button>
            )}
          </section>
        )}
        {isOwner && others.length > 0 && (
          <section aria-label="Transfer ownership">
            <h3>Transfer ownership</h3>
            <div className="share-row">
              <label>
                New owner (you become an editor)
                <select aria-label="New owner" value={newOwner} onChange={(e) => setNewOwner(e.target.value)}>
                  <option value="">Choose a member…</option>
                  {others.map((m) => (
                    <option key={m.user_id} value={m.username}>{m.username}</option>
                  ))}
                </select>
              </label>
              <button type="button" className="ghost" disabled={busy || !newOwner}
                onClick={() => {
                  if (!window.confirm(`Make ${newOwner} the owner? You will become an editor.`)) return
                  void run(() => api.transferOwner(docId, newOwner), `${newOwner} now owns this document.`, 'Could not transfer the ownership.')
                }}>
                Transfer
              </button>
            </div>
          </section>
        )}
        {error && <p className="form-error" role="alert">{error}</p>}
        {note && <p className="share-note" role="status">{note}</p>}
        <div className="share-actions">
          <button type="button" onClick={onClose}>Done</button>
        </div>
      </div>
    </div>
  )
}
