// Words for roles and visibilities, shared by the header, the dialog and the dashboard.

import type { Role, Visibility } from '../protocol'

export const ROLE_LABEL: Record<Role, string> = { owner: 'Owner', editor: 'Editor', viewer: 'Viewer' }

export const VISIBILITY_LABEL: Record<Visibility, string> = {
  public: 'Public: listed, anyone signed in',
  link: 'Anyone with the link (signed in)',
  private: 'Private: only people added below',
}

export function shareLink(docId: string): string {
  return `${location.origin}/d/${encodeURIComponent(docId)}`
}
