import { afterEach, describe, expect, it, vi } from 'vitest'
import { Authority } from './testkit'
import { MAX_DOCUMENT_BYTES } from '../protocol'
import { TOO_LARGE_PASTE } from './session'
import { Hub, open, stopAll } from './testHub'

afterEach(stopAll)

describe('DocumentSession over a simulated server', () => {
  it('sends a large paste in pieces and refuses one past the document cap, changing nothing', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    const big = 'x😀\n'.repeat(200_000) // 1.2 MB of UTF-8
    expect(a.applyLocal([5, big])).toBe(true)
    expect(a.getSnapshot().unsaved).toBe(1)
    hub.pump()
    expect(hub.sentIds.length).toBeGreaterThan(4)
    expect(hub.doc.text).toBe('hello' + big)
    expect(b.text).toBe(hub.doc.text)
    expect(a.getSnapshot().unsaved).toBe(0)

    const sent = hub.sentIds.length
    const rev = a.getSnapshot().rev
    const tooBig = 'y'.repeat(MAX_DOCUMENT_BYTES - new TextEncoder().encode(hub.doc.text).length + 1)
    expect(a.applyLocal([2, tooBig])).toBe(false)
    expect(a.getSnapshot().problem).toBe(TOO_LARGE_PASTE)
    expect(a.text).toBe(hub.doc.text)
    expect(a.getSnapshot().unsaved).toBe(0)
    hub.pump()
    expect(hub.sentIds.length).toBe(sent)
    expect(a.getSnapshot().rev).toBe(rev)
    // The next edit that fits goes through and clears the message.
    expect(a.applyLocal(['!'])).toBe(true)
    expect(a.getSnapshot().problem).toBeNull()
    hub.pump()
    expect(hub.doc.text).toBe('!hello' + big)
  })

  it('joins, edits concurrently and converges', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    expect(a.text).toBe('hello')
    a.applyLocal([5, ' world'])
    b.applyLocal(['>> '])
    expect(a.getSnapshot().unsaved).toBe(1)
    hub.pump()
    expect(a.text).toBe('>> hello world')
    expect(b.text).toBe(a.text)
    expect(hub.doc.text).toBe(a.text)
    expect(a.getSnapshot().unsaved).toBe(0)
  })

  it('resends an in-flight op lost with the link exactly once', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    a.applyLocal([5, '!'])
    hub.sockets[0].cut() // the op never reached the server
    a.applyLocal([6, '?']) // typed offline
    expect(a.getSnapshot().unsaved).toBe(2)
    a.reconnect()
    hub.pump()
    expect(hub.sockets[1].since).toBe(0)
    expect(hub.doc.text).toBe('hello!?')
    expect(hub.sentIds).toEqual(['a:1', 'a:2'])
    expect(a.getSnapshot().unsaved).toBe(0)
  })

  it('takes its own op in the catch-up as the ack and does not send it again', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    a.applyLocal([5, '!'])
    // The op reaches the server, then the link drops before the ack arrives.
    const sa = hub.sockets[0]
    const op = sa.up.shift()!
    sa.up.unshift(op)
    hub['handle'](sa, sa.up.shift()!)
    sa.cut()
    b.applyLocal(['B'])
    hub.pump()
    a.reconnect()
    hub.pump()
    expect(hub.sentIds).toEqual(['a:1', 'b:1'])
    expect(a.text).toBe('Bhello!')
    expect(b.text).toBe('Bhello!')
    expect(hub.doc.text).toBe('Bhello!')
    expect(a.getSnapshot().unsaved).toBe(0)
    expect(a.getSnapshot().rev).toBe(2)
  })

  it('undo reverts only its own edit after a remote one', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    a.applyLocal([5, ' from a'])
    hub.pump()
    b.applyLocal(['b says: '])
    hub.pump()
    const changes: string[] = []
    a.onText((c) => changes.push(c.kind === 'op' ? c.after : c.text))
    expect(a.undo()).toBe(true)
    hub.pump()
    expect(changes).toEqual(['b says: hello'])
    expect(b.text).toBe('b says: hello')
    expect(hub.doc.text).toBe('b says: hello')
    expect(a.redo()).toBe(true)
    hub.pump()
    expect(b.text).toBe('b says: hello from a')
  })

  it('takes a title or language change made elsewhere', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    hub.sockets[0].deliver({
      type: 'document',
      document: { id: 'doc-1', title: 'main.py', language: 'python', owner_id: '2', is_public: true },
      user_id: '2',
      username: 'bob',
    })
    expect(a.getSnapshot()).toMatchObject({ title: 'main.py', language: 'python' })
  })

  it('follows role changes and stops for good when access is withdrawn', () => {
    const hub = new Hub()
    const refused: number[] = []
    const a = open(hub, 'a', { onRefused: (code) => refused.push(code) })
    hub.pump()
    expect(a.getSnapshot().role).toBeNull()
    hub.sockets[0].deliver({ type: 'access', role: 'viewer' })
    expect(a.getSnapshot().role).toBe('viewer')
    hub.sockets[0].deliver({ type: 'access', role: 'editor' })
    expect(a.getSnapshot().role).toBe('editor')
    hub.sockets[0].readyState = 3
    hub.sockets[0].onclose?.({ code: 4403, reason: 'You no longer have access to this document.' })
    hub.pump()
    expect(refused).toEqual([4403])
    expect(a.getSnapshot().refusal).toBe(4403)
    expect(a.getSnapshot().problem).toMatch(/no longer have access/)
    expect(hub.sockets).toHaveLength(1) // no reconnect
  })
})

describe('a server whose data went back in time', () => {
  it('keeps the local text and sends it as an edit on top of the server text', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    a.applyLocal([5, ' world'])
    hub.pump()
    hub.sockets[0].cut()
    a.applyLocal([11, '!']) // unsaved when the server comes back empty-handed
    hub.doc = new Authority('restored from backup')
    a.reconnect()
    hub.pump()
    expect(a.text).toBe('hello world!')
    expect(hub.doc.text).toBe('hello world!')
    expect(a.getSnapshot().unsaved).toBe(0)
  })
})

describe('a server that cannot store edits for a while', () => {
  it('says saving is paused, keeps resending, and commits the edit once when storage returns', () => {
    vi.useFakeTimers()
    try {
      const hub = new Hub()
      const a = open(hub, 'a')
      hub.pump()
      hub.storageDown = true
      a.applyLocal([5, ' world'])
      hub.pump()
      expect(a.getSnapshot().savingPaused).toBe(true)
      expect(a.getSnapshot().unsaved).toBe(1)
      vi.advanceTimersByTime(1_000)
      hub.pump()
      expect(a.getSnapshot().savingPaused).toBe(true)
      expect(hub.doc.text).toBe('hello')
      hub.storageDown = false
      vi.advanceTimersByTime(1_000)
      hub.pump()
      expect(a.getSnapshot().savingPaused).toBe(false)
      expect(a.getSnapshot().unsaved).toBe(0)
      expect(hub.doc.text).toBe('hello world')
    } finally {
      vi.useRealTimers()
    }
  })
})
