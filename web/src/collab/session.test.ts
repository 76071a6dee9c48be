import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ChatMessage, ClientMessage, ServerMessage } from '../protocol'
import type { SocketLike } from './connection'
import { backoffDelay } from './connection'
import { DocumentSession, type SessionOptions } from './session'
import { Authority } from './testkit'

/**
 * Hub plays the server of docs/protocol.md in memory: it commits through the
 * Authority, acks the sender, fans out to others and serves ?since= catch-up.
 * Frames wait in queues until the test pumps them, so loss can be staged.
 */
class Hub {
  doc = new Authority('hello')
  sockets: HubSocket[] = []
  sentIds: string[] = []
  chats = 0
  history: ChatMessage[] = []
  /** While set, ops are answered `unavailable` (the server's database is down). */
  storageDown = false

  factory = (url: string, protocols: string[]): SocketLike => {
    expect(protocols[0]).toBe('gdoc.v1')
    expect(protocols[1]).toMatch(/^bearer\./)
    const s = new HubSocket(this, url)
    this.sockets.push(s)
    return s
  }

  /** pump delivers every queued frame in both directions until quiet. */
  pump(): void {
    for (let guard = 0; guard < 10000; guard++) {
      const s = this.sockets.find((x) => x.readyState === 1 && (x.up.length > 0 || x.down.length > 0))
      const opening = this.sockets.find((x) => x.readyState === 0)
      if (opening) {
        opening.accept()
        continue
      }
      if (!s) return
      if (s.up.length > 0) this.handle(s, s.up.shift()!)
      else s.deliver(s.down.shift()!)
    }
    throw new Error('hub did not settle')
  }

  private handle(from: HubSocket, m: ClientMessage): void {
    if (m.type === 'op' && this.storageDown) {
      from.down.push({ type: 'error', code: 'unavailable', message: 'Storage is unavailable; resend the op later with the same id.', id: m.id })
    } else if (m.type === 'op') {
      this.sentIds.push(m.id)
      const { rev, committed } = this.doc.receive(m.rev, m.op, m.id)
      from.down.push({ type: 'ack', id: m.id, rev })
      if (committed) {
        for (const s of this.sockets) {
          if (s !== from && s.readyState === 1) s.down.push({ type: 'op', ...committed, user_id: '2', username: 'x' })
        }
      }
    } else if (m.type === 'chat') {
      this.chats++
      from.down.push({ type: 'chat_ack', client_msg_id: m.client_msg_id, id: this.chats, timestamp: 1 })
      for (const s of this.sockets) {
        if (s !== from && s.readyState === 1) {
          s.down.push({ type: 'chat', id: this.chats, user_id: '1', username: 'alice', message: m.message, timestamp: 1 })
        }
      }
    }
  }
}

class HubSocket implements SocketLike {
  readyState = 0
  protocol = 'gdoc.v1'
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  up: ClientMessage[] = []
  down: ServerMessage[] = []
  private readonly hub: Hub
  readonly since: number | null

  constructor(hub: Hub, url: string) {
    this.hub = hub
    const m = /since=(\d+)/.exec(url)
    this.since = m ? Number(m[1]) : null
  }

  accept(): void {
    this.readyState = 1
    const doc = this.hub.doc
    if (this.since !== null && this.since > doc.rev) {
      // docs/protocol.md: since ahead of the head gets bad_revision, then the close.
      this.onopen?.({})
      this.deliver({ type: 'error', code: 'bad_revision', message: 'Revision is ahead of the document.' })
      if (this.readyState === 1) this.cut()
      return
    }
    const base = { type: 'init' as const, user_id: '1', username: 'alice', active_users: [], rev: doc.rev, chat: this.hub.history }
    this.down.push(
      this.since === null
        ? { ...base, content: doc.text }
        : { ...base, ops: doc.since(this.since).map((c) => ({ ...c, user_id: '1', username: 'alice' })) },
    )
    this.onopen?.({})
  }

  deliver(m: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(m) })
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open')
    this.up.push(JSON.parse(data) as ClientMessage)
  }

  close(): void {
    this.readyState = 3
  }

  /** cut simulates the network dropping the link with frames still in transit. */
  cut(): void {
    this.readyState = 3
    this.up = []
    this.down = []
    this.onclose?.({ code: 1006, reason: '' })
  }
}

const sessions: DocumentSession[] = []
afterEach(() => {
  for (const s of sessions.splice(0)) s.stop()
})

function open(hub: Hub, clientId: string, extra: Partial<SessionOptions> = {}): DocumentSession {
  const s = new DocumentSession({
    docId: 'doc-1',
    clientId,
    token: () => 'tok',
    wsUrl: (id, since) => `ws://hub/ws/${id}${since === null ? '' : `?since=${since}`}`,
    socketFactory: hub.factory,
    ...extra,
  })
  sessions.push(s)
  s.start()
  return s
}

describe('DocumentSession over a simulated server', () => {
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

  it('transforms a remote cursor through later ops', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    hub.sockets[0].deliver({ type: 'cursor', user_id: '2', username: 'bob', color: '#fff', conn_id: 'k', rev: 0, anchor: 2, head: 4 })
    a.applyLocal(['ab'])
    expect(a.getSnapshot().cursors).toMatchObject([{ username: 'bob', anchor: 4, head: 6 }])
    // A cursor from an older revision is carried over the ops since.
    hub.pump()
    hub.sockets[0].deliver({ type: 'cursor', user_id: '2', conn_id: 'k', rev: 0, anchor: 1, head: 1 })
    expect(a.getSnapshot().cursors).toMatchObject([{ anchor: 3, head: 3 }])
  })
})

describe('backoffDelay', () => {
  it('grows exponentially with jitter and a cap', () => {
    expect(backoffDelay(0, () => 0)).toBe(125)
    expect(backoffDelay(0, () => 1)).toBe(250)
    expect(backoffDelay(3, () => 0.5)).toBe(1500)
    expect(backoffDelay(30, () => 1)).toBe(15000)
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

class MemoryStorage {
  private readonly items = new Map<string, string>()
  get length(): number {
    return this.items.size
  }
  key(i: number): string | null {
    return [...this.items.keys()][i] ?? null
  }
  getItem(k: string): string | null {
    return this.items.get(k) ?? null
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v)
  }
  removeItem(k: string): void {
    this.items.delete(k)
  }
}

describe('unsaved edits across a reload', () => {
  it('a closed tab leaves its unsaved edits for the next one, which sends them exactly once', () => {
    const hub = new Hub()
    const storage = new MemoryStorage()
    const mk = (clientId: string) => open(hub, clientId, { userId: '1', storage })
    const first = mk('tab1')
    hub.pump()
    first.applyLocal([5, ' one'])
    hub.pump() // acked: nothing left to keep
    first.applyLocal([9, ' two']) // in flight, reaches the server, ack lost
    hub['handle'](hub.sockets[0], hub.sockets[0].up.shift()!)
    hub.sockets[0].cut()
    first.applyLocal([13, ' three']) // typed offline
    first.stop() // the tab closes
    expect(storage.length).toBe(1)

    const second = mk('tab2')
    expect(second.text).toBe('hello one two three')
    expect(second.getSnapshot().unsaved).toBe(2)
    expect(storage.length).toBe(0) // claimed
    hub.pump()
    expect(hub.sockets.at(-1)!.since).toBe(1)
    expect(hub.doc.text).toBe('hello one two three')
    expect(hub.sentIds).toEqual(['tab1:1', 'tab1:2', 'tab1:3'])
    expect(second.getSnapshot().unsaved).toBe(0)
    second.stop()
    expect(storage.length).toBe(0)
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
