// Words for roles and visibilities, shared by the header, the dialog and the dashboard.

import type { Role, Visibility } from '../protocol'

export const ROLE_LABEL: Record<Role, string> = { owner: 'Owner', editor: 'Editor', viewer: 'Viewer' }

export const VISIBILITY_LABEL: Record<Visibility, string> = {
  public: 'Public (listed)',
  link: 'Anyone with the link',
  private: 'Only people added',
}

export function shareLink(docId: string): string {
  return `${location.origin}/d/${encodeURIComponent(docId)}`
}
