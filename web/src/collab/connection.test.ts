import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SocketLike } from './connection'
import { Connection } from './connection'
import { lineColumnToCodePoint } from './session'

class StubSocket implements SocketLike {
  readyState = 0
  protocol = 'gdoc.v1'
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  sent: string[] = []
  readonly url: string
  readonly protocols: string[]
  constructor(url: string, protocols: string[]) {
    this.url = url
    this.protocols = protocols
  }
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }
  send(data: string): void {
    this.sent.push(data)
  }
  close(): void {
    this.readyState = 3
  }
  serverClose(code: number, reason: string): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
}

describe('Connection', () => {
  let sockets: StubSocket[]
  let statuses: string[]
  let refused: string[]
  let conn: Connection

  beforeEach(() => {
    vi.useFakeTimers()
    sockets = []
    statuses = []
    refused = []
    conn = new Connection({
      url: () => `ws://x/ws/doc?since=${sockets.length}`,
      token: () => 'jwt.token.sig',
      onMessage: () => {},
      onOpen: () => {},
      onDown: () => {},
      onStatus: (s) => statuses.push(s),
      onRefused: (r) => refused.push(r),
      socketFactory: (url, protocols) => {
        const s = new StubSocket(url, protocols)
        sockets.push(s)
        return s
      },
      random: () => 1,
    })
  })

  afterEach(() => {
    conn.stop()
    vi.useRealTimers()
  })

  it('offers the OT subprotocol and the bearer token', () => {
    conn.start()
    expect(sockets[0].protocols).toEqual(['gdoc.v1', 'bearer.jwt.token.sig'])
  })

  it('reconnects with growing delays after drops, and resets the delay once open', () => {
    conn.start()
    sockets[0].open()
    expect(statuses).toEqual(['connected'])
    sockets[0].serverClose(1006, '')
    expect(statuses.at(-1)).toBe('reconnecting')
    vi.advanceTimersByTime(249)
    expect(sockets).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(2)
    expect(sockets[1].url).toBe('ws://x/ws/doc?since=1')
    sockets[1].serverClose(1006, '')
    vi.advanceTimersByTime(499)
    expect(sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(3)
    sockets[2].open()
    expect(statuses.at(-1)).toBe('connected')
  })

  it('stops retrying when the server refuses the token', () => {
    conn.start()
    sockets[0].serverClose(1008, 'Invalid token')
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
    expect(refused).toEqual(['Invalid token'])
    expect(statuses.at(-1)).toBe('offline')
  })

  it('reconnects with the new token when a refresh revoked the one the socket used', () => {
    let token = 'old.token.sig'
    const rotating = new Connection({
      url: () => 'ws://x/ws/doc',
      token: () => token,
      onMessage: () => {},
      onOpen: () => {},
      onDown: () => {},
      onStatus: () => {},
      onRefused: (r) => refused.push(r),
      socketFactory: (url, protocols) => {
        const s = new StubSocket(url, protocols)
        sockets.push(s)
        return s
      },
      random: () => 1,
    })
    rotating.start()
    sockets[0].open()
    token = 'new.token.sig'
    sockets[0].serverClose(1008, 'Token expired or revoked')
    vi.advanceTimersByTime(1_000)
    expect(refused).toEqual([])
    expect(sockets).toHaveLength(2)
    expect(sockets[1].protocols).toEqual(['gdoc.v1', 'bearer.new.token.sig'])
    // Refused again with the token it now holds: that is a real refusal.
    sockets[1].serverClose(1008, 'Token expired or revoked')
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(2)
    expect(refused).toEqual(['Token expired or revoked'])
    rotating.stop()
  })

  it('pings every 25 s while open and drops messages while closed', () => {
    conn.start()
    expect(conn.send({ type: 'ping' })).toBe(false)
    sockets[0].open()
    vi.advanceTimersByTime(50_000)
    expect(sockets[0].sent).toEqual(['{"type":"ping"}', '{"type":"ping"}'])
  })
})

describe('lineColumnToCodePoint', () => {
  it('maps seed-dialect carets to code points', () => {
    const text = 'ab\n😀cd\nx'
    expect(lineColumnToCodePoint(text, 1, 1)).toBe(0)
    expect(lineColumnToCodePoint(text, 2, 3)).toBe(4) // after the emoji (2 UTF-16 columns)
    expect(lineColumnToCodePoint(text, 2, 99)).toBe(6) // clamped to the line end
    expect(lineColumnToCodePoint(text, 9, 1)).toBe(8)
  })
})
