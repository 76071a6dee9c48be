// Test helpers for the session's tests: an in-memory server speaking
// docs/protocol.md and an in-memory Web Storage.

import { expect } from 'vitest'
import type { ChatMessage, ClientMessage, ServerMessage } from '../protocol'
import type { SocketLike } from './connection'
import { DocumentSession, type SessionOptions } from './session'
import { Authority } from './testkit'

/**
 * Hub plays the server of docs/protocol.md in memory: it commits through the
 * Authority, acks the sender, fans out to others and serves ?since= catch-up.
 * Frames wait in queues until the test pumps them, so loss can be staged.
 */
export class Hub {
  doc = new Authority('hello')
  sockets: HubSocket[] = []
  sentIds: string[] = []
  /** While set, ops are answered `unavailable` (the server's database is down). */
  storageDown = false
  chats = 0
  history: ChatMessage[] = []

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

export class HubSocket implements SocketLike {
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

/** stopAll stops every session open() started (each test file's afterEach). */
export function stopAll(): void {
  for (const s of sessions.splice(0)) s.stop()
}

/** open starts a session on the hub's document. */
export function open(hub: Hub, clientId: string, extra: Partial<SessionOptions> = {}): DocumentSession {
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


/** MemoryStorage is Web Storage in memory. */
export class MemoryStorage {
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
