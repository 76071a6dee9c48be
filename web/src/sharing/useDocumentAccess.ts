// The caller's role on a document and its owner, for the editor header.

import { useCallback, useEffect, useState } from 'react'
import { api } from '../api'
import type { Role } from '../protocol'

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

