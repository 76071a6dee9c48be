// The editor header's access line: the owner, your role, a "View only"
// badge for viewers, and the Share button that opens the Share dialog.

import { useCallback, useEffect, useState } from 'react'
import { api } from '../api'
import type { Role } from '../protocol'
import { ROLE_LABEL } from './access'
import { ShareDialog } from './ShareDialog'
import './sharing.css'

export interface DocumentAccess {
  /** The caller's role; undefined until known. */
  role?: Role
  ownerUsername?: string
  /** Re-reads the document's access (after a change in the dialog). */
  refresh: () => void
}

/**
 * useDocumentAccess reads the caller's role and the owner from the REST
 * document, again whenever ready changes (the document may only exist once
 * the WebSocket join created it) or liveRole (the server's word on the open
 * connection) changes. liveRole wins while it is set.
 */
export function useDocumentAccess(docId: string, ready: boolean, liveRole?: Role): DocumentAccess {
  const [role, setRole] = useState<Role | undefined>(undefined)
  const [ownerUsername, setOwnerUsername] = useState<string | undefined>(undefined)
  const [version, setVersion] = useState(0)
  const refresh = useCallback(() => setVersion((v) => v + 1), [])

  useEffect(() => {
    let live = true
    api.getDocument(docId).then(
      (d) => {
        if (!live) return
        setRole(d.role ?? undefined)
        setOwnerUsername(d.owner_username)
      },
      () => {
        /* not created yet, or no access: the connection says so in words */
      },
    )
    return () => {
      live = false
    }
  }, [docId, ready, liveRole, version])

  return { role: liveRole ?? role, ownerUsername, refresh }
}

export function AccessHeader(props: { docId: string; access: DocumentAccess; myUserId?: string }) {
  const { role, ownerUsername, refresh } = props.access
  const [open, setOpen] = useState(false)
  const close = useCallback(() => setOpen(false), [])
  return (
    <div className="access-info" data-testid="access-info">
      {ownerUsername && <span className="access-owner">Owner: {ownerUsername}</span>}
      {role && <span className="access-role" data-testid="my-role">You: {ROLE_LABEL[role]}</span>}
      {role === 'viewer' && (
        <span className="view-only-badge" data-testid="view-only" title="You can read, chat and show your cursor, but not edit.">View only</span>
      )}
      <button type="button" className="share-button small" onClick={() => setOpen(true)}>Share</button>
      {open && <ShareDialog docId={props.docId} myUserId={props.myUserId} onClose={close} onChanged={refresh} />}
    </div>
  )
}
