import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SocketLike } from './connection'
import { backoffDelay, Connection } from './connection'

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
      onRefused: (code, reason) => refused.push(`${code} ${reason}`),
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
    vi.unstubAllGlobals()
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
    sockets[0].serverClose(4401, 'Invalid token')
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
    expect(refused).toEqual(['4401 Invalid token'])
    expect(statuses.at(-1)).toBe('offline')
  })

  it('decides from the close code alone: a deleted document stays closed, a slow consumer comes back', () => {
    const win = new EventTarget()
    vi.stubGlobal('window', win)
    conn.start()
    sockets[0].open()
    // The text is not read: an unknown reason with a retryable code reconnects.
    sockets[0].serverClose(4429, 'Document deleted')
    vi.advanceTimersByTime(250)
    expect(sockets).toHaveLength(2)
    sockets[1].open()
    sockets[1].serverClose(1011, '')
    vi.advanceTimersByTime(250)
    expect(sockets).toHaveLength(3)
    sockets[2].open()
    sockets[2].serverClose(4404, '')
    win.dispatchEvent(new Event('online')) // the network coming back does not reopen it
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(3)
    expect(refused).toEqual(['4404 '])
    expect(statuses.at(-1)).toBe('offline')
    conn.reconnectNow() // only the user asking does
    expect(sockets).toHaveLength(4)
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
      onRefused: (code, reason) => refused.push(`${code} ${reason}`),
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
    sockets[0].serverClose(4401, 'Token expired or revoked')
    vi.advanceTimersByTime(1_000)
    expect(refused).toEqual([])
    expect(sockets).toHaveLength(2)
    expect(sockets[1].protocols).toEqual(['gdoc.v1', 'bearer.new.token.sig'])
    // Refused again with the token it now holds: that is a real refusal.
    sockets[1].serverClose(4401, 'Token expired or revoked')
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(2)
    expect(refused).toEqual(['4401 Token expired or revoked'])
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

describe('backoffDelay', () => {
  it('grows exponentially with jitter and a cap', () => {
    expect(backoffDelay(0, () => 0)).toBe(125)
    expect(backoffDelay(0, () => 1)).toBe(250)
    expect(backoffDelay(3, () => 0.5)).toBe(1500)
    expect(backoffDelay(30, () => 1)).toBe(15000)
  })
})
