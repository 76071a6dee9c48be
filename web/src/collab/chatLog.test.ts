import { afterEach, describe, expect, it } from 'vitest'
import { Hub, open, stopAll } from './testHub'

afterEach(stopAll)

describe('chat in a DocumentSession', () => {
  it('shows a chat message once for the sender and once, unread, for the receiver', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    expect(a.sendChat('  hi there ')).toBeNull()
    expect(a.getSnapshot().chat).toMatchObject([{ message: 'hi there', pending: true }])
    hub.pump()
    expect(a.getSnapshot().chat).toMatchObject([{ message: 'hi there', pending: false, id: 1 }])
    expect(b.getSnapshot().chat).toMatchObject([{ message: 'hi there', id: 1 }])
    expect(b.getSnapshot().unreadChat).toBe(1)
    b.setChatOpen(true)
    expect(b.getSnapshot().unreadChat).toBe(0)
    expect(a.sendChat('   ')).toBe('Message is empty')
    expect(a.sendChat('x'.repeat(2001))).toMatch(/longer than 2000/)
    expect(a.getSnapshot().chat).toHaveLength(1)
  })

  it('counts a message\'s length in code points, as the server does', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    expect(a.sendChat('😀'.repeat(2000))).toBeNull()
    expect(a.sendChat('😀'.repeat(2001))).toMatch(/longer than 2000/)
  })
})

describe('chat across a dropped link', () => {
  it('confirms a message whose ack was lost, and resends one that never arrived, each once', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    const b = open(hub, 'b')
    hub.pump()
    // "first" reaches the server; the link drops before the ack.
    a.sendChat('first')
    const sa = hub.sockets[0]
    hub['handle'](sa, sa.up.shift()!)
    // "second" is lost with the link.
    a.sendChat('second')
    sa.cut()
    hub.pump()
    hub.history = [{ type: 'chat', id: 1, user_id: '1', username: 'alice', message: 'first', timestamp: Date.now() / 1000 }]
    a.reconnect()
    hub.pump()
    const chat = a.getSnapshot().chat
    expect(chat.map((e) => [e.message, e.pending])).toEqual([
      ['first', false],
      ['second', false],
    ])
    expect(hub.chats).toBe(2)
    expect(b.getSnapshot().chat.map((e) => e.message)).toEqual(['first', 'second'])
  })
})

