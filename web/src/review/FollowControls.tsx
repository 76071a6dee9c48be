// Follow mode and presenting in the page: the people list (click someone to
// follow them; badges say who presents and who follows whom), the Present
// button, and the banner with presenters' requests and what just happened.

import { useSyncExternalStore } from 'react'
import type { PresenceUser } from '../protocol'
import type { Follow } from './follow'

const COLOR = /^#[0-9a-fA-F]{3,8}$/

export function PeopleList({ follow, users, myId }: { follow: Follow; users: PresenceUser[]; myId: string | undefined }) {
  const f = useSyncExternalStore(follow.subscribe, follow.getSnapshot)
  const followersOf = (userId: string) => {
    const names = new Set<string>()
    for (const p of f.peers) if (p.following === userId) names.add(p.username)
    if (userId !== myId && f.following === userId) names.add('you')
    return [...names]
  }
  const presenting = new Set(f.peers.filter((p) => p.presenting).map((p) => p.userId))
  if (f.presenting && myId) presenting.add(myId)
  return (
    <ul className="avatars">
      {users.map((u) => {
        const me = u.user_id === myId
        const followers = followersOf(u.user_id)
        const following = me ? f.following : f.peers.find((p) => p.userId === u.user_id && p.following)?.following
        const label = me ? `${u.username} (you)` : f.following === u.user_id ? `Stop following ${u.username}` : `Follow ${u.username}`
        return (
          <li key={u.user_id} className={`avatar${f.following === u.user_id ? ' followed' : ''}`} title={u.username} data-user={u.username}>
            <button type="button" className="avatar-button" aria-label={label} disabled={me} onClick={() => follow.toggle(u.user_id)}>
              <span className="avatar-dot" style={{ backgroundColor: COLOR.test(u.color) ? u.color : '#61afef' }} aria-hidden="true">
                {u.username.slice(0, 1).toUpperCase()}
              </span>
              <span className="avatar-name">{u.username}{me ? ' (you)' : ''}</span>
            </button>
            {presenting.has(u.user_id) && <span className="badge presenting">presenting</span>}
            {following && <span className="badge">following {following === myId ? 'you' : follow.nameOf(following)}</span>}
            {followers.length > 0 && (
              <span className="badge followers" title={`Followed by ${followers.join(', ')}`}>
                followed by {followers.length}
              </span>
            )}
          </li>
        )
      })}
    </ul>
  )
}

export function PresentButton({ follow }: { follow: Follow }) {
  const f = useSyncExternalStore(follow.subscribe, follow.getSnapshot)
  return (
    <button type="button" className="ghost small present-button" aria-pressed={f.presenting} onClick={() => follow.setPresenting(!f.presenting)}>
      {f.presenting ? 'Stop presenting' : 'Present'}
    </button>
  )
}

export function FollowBanner({ follow }: { follow: Follow }) {
  const f = useSyncExternalStore(follow.subscribe, follow.getSnapshot)
  if (f.prompts.length === 0 && !f.notice && !f.following) return null
  return (
    <div className="follow-banner" role="status" aria-live="polite" data-testid="follow-banner">
      {f.prompts.map((id) => (
        <span key={id} className="follow-prompt" data-testid="present-prompt">
          {follow.nameOf(id)} is presenting and asks you to follow.
          <button type="button" className="small" onClick={() => follow.answer(id, true)}>Follow</button>
          <button type="button" className="ghost small" onClick={() => follow.answer(id, false)}>No thanks</button>
        </span>
      ))}
      {f.notice && <span className="follow-notice" data-testid="follow-notice">{f.notice}</span>}
      {f.following && (
        <button type="button" className="ghost small" onClick={() => follow.unfollow(null)}>
          Stop following
        </button>
      )}
    </div>
  )
}
