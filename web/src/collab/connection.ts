// One class owns the document's WebSocket: it opens it with the OT
// subprotocol and the bearer token, keeps it alive with app-level pings, and
// reopens it with exponential backoff and jitter until told to stop.

import type { ClientMessage, RefusalCode, ServerMessage } from '../protocol'
import { CLOSE_CODES, OT_SUBPROTOCOL, isRefusal, parseServerMessage } from '../protocol'

/** LinkStatus is what the user sees: connected, trying again, or offline (given up or no network). */
export type LinkStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline'

/** SocketLike is the part of the browser WebSocket the connection uses (tests pass their own). */
export interface SocketLike {
  readonly readyState: number
  readonly protocol: string
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike

const OPEN = 1

export interface ConnectionOptions {
  /** url builds the WebSocket URL; since is the revision to catch up from (null on first join). */
  url: () => string
  token: () => string | null
  onMessage: (msg: ServerMessage) => void
  onOpen: () => void
  onDown: (why: { code: number; reason: string }) => void
  onStatus: (status: LinkStatus) => void
  /**
   * onRefused is told when the connection stopped for a reason retrying
   * cannot fix: the server's close code (or 4401 when there is no token to
   * send) and its close text.
   */
  onRefused: (code: RefusalCode, reason: string) => void
  socketFactory?: SocketFactory
  pingIntervalMs?: number
  random?: () => number
}

export class Connection {
  status: LinkStatus = 'connecting'
  private socket: SocketLike | null = null
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private stopped = false
  /** refused is set by a refusal: only an explicit reconnectNow opens again, not the network coming back. */
  private refused = false
  /** The token the current socket was opened with. */
  private openedWith: string | null = null
  private readonly opts: ConnectionOptions
  private readonly factory: SocketFactory
  private readonly onOnline = () => {
    if (!this.refused) this.reconnectNow()
  }

  constructor(opts: ConnectionOptions) {
    this.opts = opts
    this.factory = opts.socketFactory ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike)
  }

  start(): void {
    this.stopped = false
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline)
    this.open()
  }

  /** stop closes the socket for good (leaving the page). */
  stop(): void {
    this.stopped = true
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline)
    this.clearTimers()
    const s = this.socket
    this.socket = null
    if (s) {
      s.onclose = null
      s.onmessage = null
      s.close(1000, 'leaving')
    }
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN && this.status === 'connected'
  }

  /** send writes msg when the socket is open; it returns false (and drops msg) otherwise. */
  send(msg: ClientMessage): boolean {
    if (!this.isOpen) return false
    try {
      this.socket!.send(JSON.stringify(msg))
      return true
    } catch {
      return false
    }
  }

  /** reconnectNow drops the current socket (if any) and opens a new one at once. */
  reconnectNow(): void {
    if (this.stopped) return
    this.attempt = 0
    this.refused = false
    this.drop({ code: 4000, reason: 'reconnect' }, false)
    this.open()
  }

  private setStatus(s: LinkStatus): void {
    if (this.status === s) return
    this.status = s
    this.opts.onStatus(s)
  }

  private open(): void {
    if (this.stopped) return
    this.clearTimers()
    const token = this.opts.token()
    if (!token) {
      this.refused = true
      this.setStatus('offline')
      this.opts.onRefused(CLOSE_CODES.unauthenticated, 'Missing token')
      return
    }
    this.openedWith = token
    let socket: SocketLike
    try {
      socket = this.factory(this.opts.url(), [OT_SUBPROTOCOL, `bearer.${token}`])
    } catch {
      this.scheduleRetry()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.attempt = 0
      this.setStatus('connected')
      this.startPing()
      this.opts.onOpen()
    }
    socket.onmessage = (ev) => {
      if (this.socket !== socket || typeof ev.data !== 'string') return
      const msg = parseServerMessage(ev.data)
      if (msg) this.opts.onMessage(msg)
    }
    socket.onerror = () => {}
    socket.onclose = (ev) => {
      if (this.socket !== socket) return
      this.drop(ev, true)
    }
  }

  private drop(why: { code: number; reason: string }, retry: boolean): void {
    const s = this.socket
    this.socket = null
    this.clearTimers()
    if (s) {
      s.onclose = null
      s.onmessage = null
      s.onopen = null
      if (s.readyState <= OPEN) {
        try {
          s.close(1000, 'reconnecting')
        } catch {
          /* already closing */
        }
      }
    }
    this.opts.onDown(why)
    if (!retry) return
    // A refresh revokes the old token, and the server then closes sockets
    // opened with it (4401): with a newer token at hand that is no refusal.
    const token = this.opts.token()
    if (why.code === CLOSE_CODES.unauthenticated && token !== null && token !== this.openedWith) {
      this.attempt = 0
      this.scheduleRetry()
      return
    }
    // Otherwise the code alone decides: see isRefusal in protocol.ts.
    if (isRefusal(why.code)) {
      this.refused = true
      this.setStatus('offline')
      this.opts.onRefused(why.code, why.reason)
      return
    }
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.stopped) return
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false
    this.setStatus(offline ? 'offline' : 'reconnecting')
    this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.attempt++, this.opts.random ?? Math.random))
  }

  private startPing(): void {
    const every = this.opts.pingIntervalMs ?? 25_000
    this.pingTimer = setInterval(() => this.send({ type: 'ping' }), every)
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    if (this.pingTimer !== null) clearInterval(this.pingTimer)
    this.retryTimer = null
    this.pingTimer = null
  }
}

/**
 * backoffDelay is the wait before reconnect attempt n (0-based): exponential
 * from 250 ms, capped at 15 s, with "equal jitter" so a crowd of clients
 * dropped together does not come back together.
 */
export function backoffDelay(attempt: number, random: () => number): number {
  const ceiling = Math.min(15_000, 250 * 2 ** Math.min(attempt, 10))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
