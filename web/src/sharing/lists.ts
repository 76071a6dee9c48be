// The dashboard's three lists: your documents, shared with you, public.

import type { DocumentSummary } from '../protocol'
import { ROLE_LABEL } from './access'

export function splitDocuments(docs: DocumentSummary[], myId?: string) {
  const mine = docs.filter((d) => d.owner_id === myId)
  const shared = docs.filter((d) => d.owner_id !== myId && d.shared)
  const others = docs.filter((d) => d.owner_id !== myId && !d.shared)
  return { mine, shared, others }
}

/** docMeta is a list entry's second line: id, language, revision, owner and your role. */
export function docMeta(d: DocumentSummary): string {
  const parts = [d.id, d.language, `rev ${d.rev}`]
  if (d.owner_username && d.role !== 'owner') parts.push(`by ${d.owner_username}`)
  if (d.role && d.role !== 'owner') parts.push(ROLE_LABEL[d.role].toLowerCase())
  if (d.visibility === 'private') parts.push('private')
  if (d.visibility === 'link') parts.push('link only')
  return parts.join(' · ')
}
