// The editor header's access line: the owner, your role, a "View only"
// badge for viewers, and the Share button that opens the Share dialog.

import { useCallback, useState } from 'react'
import { ROLE_LABEL } from './access'
import { ShareDialog } from './ShareDialog'
import type { DocumentAccess } from './useDocumentAccess'
import './sharing.css'

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
