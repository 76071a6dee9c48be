// DocumentSession is one open document: the local text, the OT client, the
// per-user undo history, presence, remote cursors and chat, driven by one
// Connection. React renders its snapshots; the Monaco binding feeds it local
// edits and applies the text changes it announces.

import type {
  ChatMessage,
  ClientMessage,
  CommittedOpMessage,
  CursorMessage,
  InitMessage,
  PresenceUser,
  ServerMessage,
} from '../protocol'
import { CHAT_MAX_CHARS } from '../protocol'
import type { LinkStatus, SocketFactory } from './connection'
import { Connection } from './connection'
import { codePointLength } from './offsets'
import type { SavedClient } from './otClient'
import { OTClient, RevisionGapError } from './otClient'
import type { TextOp } from './textOp'
import { diffOp, textType } from './textOp'
import { UndoHistory } from './undo'

/** ChatEntry is a chat line as shown: confirmed (id set) or still on its way (pending). */
export interface ChatEntry {
  key: string
  id: number | null
  user_id: string
  username: string
  message: string
  timestamp: number
  pending: boolean
  client_msg_id?: string
}

/** RemoteCursor is another connection's selection, in code points of the local text. */
export interface RemoteCursor {
  conn_id: string
  user_id: string
  username: string
  color: string
  anchor: number
  head: number
}

export interface SessionSnapshot {
  loaded: boolean
  status: LinkStatus
  unsaved: number
  rev: number
  me: { user_id: string; username: string; color: string } | null
  users: PresenceUser[]
  title: string
  language: string
  chat: ChatEntry[]
  unreadChat: number
  cursors: RemoteCursor[]
  /** A problem the user should know about (refused connection, rejected edit). */
  problem: string | null
  /**
   * The server answered the in-flight edit `unavailable` (its database is
   * down or full): edits are kept and resent until one is acknowledged.
   */
  savingPaused: boolean
  /** Whether older chat history may exist on the server. */
  olderChat: boolean
}

/** TextChange tells the editor binding how the text changed for a reason other than its own typing. */
export type TextChange =
  | { kind: 'reset'; text: string }
  | { kind: 'op'; op: TextOp; before: string; after: string; own: boolean }

export interface SessionOptions {
  docId: string
  token: () => string | null
  /** wsUrl builds the socket URL for the document, with ?since= when catching up. */
  wsUrl: (docId: string, since: number | null) => string
  clientId?: string
  socketFactory?: SocketFactory
  fetchOlderChat?: (beforeId: number) => Promise<ChatMessage[]>
  onRefused?: (reason: string) => void
  now?: () => number
  cursorThrottleMs?: number
  pingIntervalMs?: number
  /**
   * Where unacknowledged edits are kept so a reload or a closed tab loses
   * none (localStorage in the browser); with userId it scopes the entries.
   */
  storage?: KeyValueStorage | null
  userId?: string
}

/** KeyValueStorage is the part of the Web Storage API the session uses. */
export interface KeyValueStorage {
  readonly length: number
  key(index: number): string | null
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

interface SavedSession {
  v: 1
  client: SavedClient
  serverText: string
}

const RECENT_OPS = 500
const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal'])

export function newClientId(): string {
  const bytes = new Uint8Array(9)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export class DocumentSession {
  readonly docId: string
  /** The local text: the server's text at client.rev plus the unacknowledged local ops. */
  text = ''
  /** The server's text at client.rev (no local pending ops): the base for a reset. */
  private serverText = ''
  private client: OTClient | null = null
  readonly history = new UndoHistory()
  private readonly conn: Connection
  private readonly opts: SessionOptions
  private readonly clientId: string
  private readonly storageKey: string | null
  private persistTimer: ReturnType<typeof setTimeout> | null = null
  private persisted = false
  private readonly recentOps: { rev: number; op: TextOp }[] = []
  private readonly cursorsByConn = new Map<string, RemoteCursor>()
  private readonly textListeners = new Set<(c: TextChange) => void>()
  private readonly listeners = new Set<() => void>()
  private chatOutbox: { message: string; client_msg_id: string }[] = []
  private localSelection: { anchor: number; head: number } | null = null
  private cursorDirty = false
  private cursorTimer: ReturnType<typeof setTimeout> | null = null
  private lastCursorSent = 0
  private snap: SessionSnapshot
  private retryOpTimer: ReturnType<typeof setTimeout> | null = null
  /**
   * Join afresh (no ?since=): 'drop' after the server refused one of our
   * edits (take its text), 'keep' when our revision is ahead of the server's
   * (its data was replaced: our text is sent as an edit on top of its text).
   */
  private freshJoin: false | 'drop' | 'keep' = false
  private readonly onBeforeUnload = (e: BeforeUnloadEvent) => {
    if (this.snap.unsaved > 0 || this.chatOutbox.length > 0) {
      e.preventDefault()
      e.returnValue = ''
    }
  }

  constructor(opts: SessionOptions) {
    this.opts = opts
    this.docId = opts.docId
    this.clientId = opts.clientId ?? newClientId()
    this.storageKey = opts.storage ? `${storagePrefix(opts.userId, opts.docId)}${this.clientId}` : null
    this.snap = {
      loaded: false,
      status: 'connecting',
      unsaved: 0,
      rev: 0,
      me: null,
      users: [],
      title: opts.docId,
      language: 'plaintext',
      chat: [],
      unreadChat: 0,
      cursors: [],
      problem: null,
      savingPaused: false,
      olderChat: false,
    }
    this.conn = new Connection({
      url: () => opts.wsUrl(this.docId, this.client && !this.freshJoin ? this.client.rev : null),
      token: opts.token,
      socketFactory: opts.socketFactory,
      pingIntervalMs: opts.pingIntervalMs,
      onMessage: (m) => {
        this.handleMessage(m)
        for (const fn of this.messageListeners) fn(m)
      },
      onOpen: () => {},
      onDown: (why) => {
        this.client?.disconnected()
        // Our revision is ahead of the server's: the next join starts from its text.
        if (/bad revision/i.test(why.reason)) this.freshJoin = 'keep'
        // Chat sent on the lost link but not acked: settle it on the next init.
        const queued = new Set(this.chatOutbox.map((m) => m.client_msg_id))
        for (const e of this.snap.chat) {
          if (e.pending && e.client_msg_id && !queued.has(e.client_msg_id)) {
            this.chatOutbox.push({ message: e.message, client_msg_id: e.client_msg_id })
          }
        }
        this.cursorsByConn.clear()
        this.update({ cursors: [] })
      },
      onStatus: (status) => this.update({ status }),
      onRefused: (reason) => {
        this.update({ problem: `Connection refused: ${reason}` })
        opts.onRefused?.(reason)
      },
    })
  }

  // ---- unsaved edits that survive a reload ----

  private readonly sendOp = (rev: number, op: TextOp, id: string) => this.conn.send({ type: 'op', rev, op, id })

  // restoreUnsaved claims one saved entry for this user and document (left by
  // a closed tab or a reload) and resumes it: same client id, same op ids, so
  // the server's dedupe and the catch-up make the resend exactly-once.
  private restoreUnsaved(): boolean {
    const storage = this.opts.storage
    if (!storage) return false
    const prefix = storagePrefix(this.opts.userId, this.docId)
    let key: string | null = null
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i)
      if (k !== null && k.startsWith(prefix)) {
        key = k
        break
      }
    }
    if (key === null) return false
    const raw = storage.getItem(key)
    storage.removeItem(key)
    try {
      const saved = JSON.parse(raw ?? '') as SavedSession
      if (saved.v !== 1) return false
      const client = OTClient.restore(saved.client, this.sendOp)
      let text = saved.serverText
      for (const op of client.pendingOps) text = textType.apply(text, op)
      this.client = client
      this.serverText = saved.serverText
      this.text = text
      this.update({ unsaved: client.unsaved, rev: client.rev })
      this.schedulePersist()
      return true
    } catch {
      return false // a corrupt entry is dropped
    }
  }

  private schedulePersist(): void {
    if (!this.storageKey || this.persistTimer !== null) return
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null
      this.persistNow()
    }, 300)
  }

  private persistNow(): void {
    const storage = this.opts.storage
    if (!storage || !this.storageKey) return
    const c = this.client
    try {
      if (!c || c.unsaved === 0) {
        if (this.persisted) storage.removeItem(this.storageKey)
        this.persisted = false
        return
      }
      const saved: SavedSession = { v: 1, client: c.save(), serverText: this.serverText }
      storage.setItem(this.storageKey, JSON.stringify(saved))
      this.persisted = true
    } catch {
      /* storage full or unavailable: edits are still kept in memory */
    }
  }

  private readonly onPageHide = () => this.persistNow()

  /** The server revision the local text is based on (0 before init). */
  get serverRev(): number {
    return this.client?.rev ?? 0
  }

  /** The local edits the server has not acknowledged yet, in order. */
  get pendingOps(): TextOp[] {
    return this.client?.pendingOps ?? []
  }

  private readonly serverOpListeners = new Set<(rev: number, op: TextOp) => void>()
  private readonly messageListeners = new Set<(m: ServerMessage) => void>()

  /** onServerOp calls fn with every op the server commits, in revision order, as the session applies it. */
  onServerOp(fn: (rev: number, op: TextOp) => void): () => void {
    this.serverOpListeners.add(fn)
    return () => this.serverOpListeners.delete(fn)
  }

  /** onMessage calls fn with every server message after the session handled it (features built on the session). */
  onMessage(fn: (m: ServerMessage) => void): () => void {
    this.messageListeners.add(fn)
    return () => this.messageListeners.delete(fn)
  }

  /** send sends a message of a feature built on the session; false while offline. */
  send(m: ClientMessage): boolean {
    return this.conn.send(m)
  }

  // ---- lifecycle and subscriptions ----

  start(): void {
    // Claimed here, not in the constructor: a session object that is built
    // but never started (React may discard one) must not take the entry.
    if (!this.client && this.restoreUnsaved()) this.emitText({ kind: 'reset', text: this.text })
    if (typeof window !== 'undefined') {
      window.addEventListener('beforeunload', this.onBeforeUnload)
      window.addEventListener('pagehide', this.onPageHide)
    }
    this.conn.start()
  }

  stop(): void {
    if (typeof window !== 'undefined') {
      window.removeEventListener('beforeunload', this.onBeforeUnload)
      window.removeEventListener('pagehide', this.onPageHide)
    }
    if (this.persistTimer !== null) clearTimeout(this.persistTimer)
    this.persistTimer = null
    this.persistNow()
    if (this.cursorTimer !== null) clearTimeout(this.cursorTimer)
    if (this.retryOpTimer !== null) clearTimeout(this.retryOpTimer)
    this.conn.stop()
  }

  /** reconnect drops the socket and catches up again (used by tests and the status button). */
  reconnect(): void {
    this.conn.reconnectNow()
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  getSnapshot = (): SessionSnapshot => this.snap

  onText(fn: (c: TextChange) => void): () => void {
    this.textListeners.add(fn)
    return () => this.textListeners.delete(fn)
  }

  private update(patch: Partial<SessionSnapshot>): void {
    this.snap = { ...this.snap, ...patch }
    for (const fn of this.listeners) fn()
  }

  private refreshCounters(): void {
    if (this.storageKey && (this.persisted || (this.client?.unsaved ?? 0) > 0)) this.schedulePersist()
    const c = this.client
    this.update({
      unsaved: c ? c.unsaved : 0,
      rev: c ? c.rev : 0,
      cursors: [...this.cursorsByConn.values()],
    })
  }

  private emitText(c: TextChange): void {
    for (const fn of this.textListeners) fn(c)
  }

  // ---- local edits ----

  /**
   * applyLocal records an edit the user made in the editor (already shown
   * there): it updates the text, the undo history and sends it.
   */
  applyLocal(op: TextOp): void {
    if (op.length === 0 || !this.client) return
    const before = this.text
    this.text = textType.apply(before, op)
    this.history.recordLocal(op, before, (this.opts.now ?? Date.now)())
    this.transformCursors(op)
    this.client.applyClient(op)
    this.refreshCounters()
  }

  /** undo reverts the user's own last edit; the editor learns of it through onText. */
  undo(): boolean {
    return this.applyHistory(this.history.undo(this.text))
  }

  redo(): boolean {
    return this.applyHistory(this.history.redo(this.text))
  }

  private applyHistory(op: TextOp | null): boolean {
    if (!op || op.length === 0 || !this.client) return false
    const before = this.text
    this.text = textType.apply(before, op)
    this.transformCursors(op)
    this.client.applyClient(op)
    this.emitText({ kind: 'op', op, before, after: this.text, own: true })
    this.refreshCounters()
    return true
  }

  /** setSelection records the local selection (code points) and sends it, throttled. */
  setSelection(anchor: number, head: number): void {
    this.localSelection = { anchor, head }
    this.cursorDirty = true
    this.scheduleCursor()
  }

  private scheduleCursor(): void {
    if (this.cursorTimer !== null) return
    const throttle = this.opts.cursorThrottleMs ?? 50
    const now = (this.opts.now ?? Date.now)()
    const wait = Math.max(0, this.lastCursorSent + throttle - now)
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null
      this.flushCursor()
    }, wait)
  }

  // A cursor is sent only when no local op is pending: its positions must be
  // in the coordinates of the revision it names. Otherwise the ack flushes it.
  private flushCursor(): void {
    const c = this.client
    if (!this.cursorDirty || !this.localSelection || !c || c.state.name !== 'Synchronized') return
    const sent = this.conn.send({ type: 'cursor', rev: c.rev, ...this.localSelection })
    if (sent) {
      this.cursorDirty = false
      this.lastCursorSent = (this.opts.now ?? Date.now)()
    }
  }

  // ---- chat ----

  /** sendChat shows the message at once and sends it (or queues it while offline). */
  sendChat(raw: string): string | null {
    const message = raw.trim()
    if (message.length === 0) return 'Message is empty'
    if (message.length > CHAT_MAX_CHARS) return `Message is longer than ${CHAT_MAX_CHARS} characters`
    const me = this.snap.me
    const client_msg_id = newClientId()
    const entry: ChatEntry = {
      key: `local-${client_msg_id}`,
      id: null,
      user_id: me?.user_id ?? '',
      username: me?.username ?? 'me',
      message,
      timestamp: (this.opts.now ?? Date.now)() / 1000,
      pending: true,
      client_msg_id,
    }
    this.update({ chat: [...this.snap.chat, entry] })
    if (!this.conn.send({ type: 'chat', message, client_msg_id })) this.chatOutbox.push({ message, client_msg_id })
    return null
  }

  setChatOpen(open: boolean): void {
    this.chatOpen = open
    if (open && this.snap.unreadChat !== 0) this.update({ unreadChat: 0 })
  }
  private chatOpen = false

  /** loadOlderChat prepends the page of history before the oldest message shown. */
  async loadOlderChat(): Promise<void> {
    const oldest = this.snap.chat.find((m) => m.id !== null)
    if (!oldest || !this.opts.fetchOlderChat) return
    const page = await this.opts.fetchOlderChat(oldest.id!)
    const known = new Set(this.snap.chat.map((m) => m.id))
    const older = page.filter((m) => !known.has(m.id)).map(chatEntry)
    this.update({ chat: [...older, ...this.snap.chat], olderChat: page.length > 0 })
  }

  // ---- incoming ----

  private handleMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'init':
        return this.onInit(m)
      case 'op':
        this.onCommitted(m)
        return
      case 'ack':
        return this.onAck(m.id, m.rev)
      case 'cursor':
        return this.onCursor(m)
      case 'chat':
        return this.onChat(m)
      case 'chat_ack': {
        const chat = this.snap.chat.map((e) =>
          e.client_msg_id === m.client_msg_id ? { ...e, id: m.id, timestamp: m.timestamp, pending: false } : e,
        )
        this.update({ chat })
        return
      }
      case 'user_joined': {
        if (this.snap.users.some((u) => u.user_id === m.user_id)) return
        const color = m.color ?? '#61afef'
        this.update({ users: [...this.snap.users, { user_id: m.user_id, username: m.username, color }] })
        return
      }
      case 'user_left': {
        for (const [k, c] of this.cursorsByConn) if (c.user_id === m.user_id) this.cursorsByConn.delete(k)
        this.update({
          users: this.snap.users.filter((u) => u.user_id !== m.user_id),
          cursors: [...this.cursorsByConn.values()],
        })
        return
      }
      case 'document':
        return this.update({ title: m.document.title, language: m.document.language || 'plaintext' })
      case 'error':
        return this.onError(m.code, m.message, m.id)
      case 'pong':
      case 'update':
        return
    }
  }

  private onInit(m: InitMessage): void {
    const me = { user_id: m.user_id, username: m.username, color: m.color ?? '#c678dd' }
    const users = m.users ?? [me, ...m.active_users.map((id) => ({ user_id: id, username: `user ${id}`, color: '#61afef' }))]
    const patch: Partial<SessionSnapshot> = { me, users, problem: null }
    if (m.document) {
      patch.title = m.document.title
      patch.language = m.document.language || 'plaintext'
    }
    if (m.chat) {
      const current = this.settleOutbox(m.chat, m.user_id)
      const known = new Set(current.filter((e) => e.id !== null).map((e) => e.id))
      const fresh = m.chat.filter((c) => !known.has(c.id)).map(chatEntry)
      patch.chat = this.snap.loaded ? [...current, ...fresh] : [...fresh, ...current]
      if (!this.snap.loaded) patch.olderChat = m.chat.length >= 50
    }
    this.update(patch)

    if (!this.client || this.freshJoin) {
      const content = m.content ?? ''
      const keepLocal = this.freshJoin === 'keep' && this.client !== null && this.client.unsaved > 0
      if (!this.client) {
        this.client = new OTClient(this.clientId, m.rev, this.sendOp)
      } else {
        this.client.reset(m.rev)
        this.history.undoStack = []
        this.history.redoStack = []
      }
      this.freshJoin = false
      this.recentOps.length = 0
      this.serverText = content
      if (keepLocal) {
        this.client.applyClient(diffOp(content, this.text))
      } else {
        this.text = content
        this.emitText({ kind: 'reset', text: content })
      }
    } else if (m.ops && !m.reset) {
      for (const op of m.ops) {
        if (!this.onCommitted(op)) return
      }
      this.client.resend()
    } else if (m.content !== undefined) {
      this.rebaseOnto(m.content, m.rev)
    }
    this.update({ loaded: true })
    this.refreshCounters()
    for (const msg of this.chatOutbox.splice(0)) {
      if (!this.conn.send({ type: 'chat', ...msg })) this.chatOutbox.push(msg)
    }
    this.cursorDirty = true
    this.flushCursor()
  }

  // settleOutbox matches queued chat against the history in init: a message
  // of ours with the same text there reached the server before the link
  // dropped (its ack was lost), so it is confirmed instead of sent twice.
  private settleOutbox(history: ChatMessage[], myId: string): ChatEntry[] {
    let chat = this.snap.chat
    const claimed = new Set(chat.filter((e) => e.id !== null).map((e) => e.id))
    for (const msg of [...this.chatOutbox]) {
      const entry = chat.find((e) => e.client_msg_id === msg.client_msg_id)
      const match = history.find(
        (h) => h.user_id === myId && h.message === msg.message && !claimed.has(h.id) && entry !== undefined && h.timestamp >= entry.timestamp - 60,
      )
      if (!match) continue
      claimed.add(match.id)
      this.chatOutbox = this.chatOutbox.filter((o) => o !== msg)
      chat = chat.map((e) =>
        e.client_msg_id === msg.client_msg_id ? { ...e, id: match.id, timestamp: match.timestamp, pending: false } : e,
      )
    }
    return chat
  }

  // rebaseOnto handles a server that sent whole content instead of the ops
  // since our revision: what others changed is the diff from our server base,
  // and our unacknowledged edits are rebased over it and sent again as new ops.
  private rebaseOnto(content: string, rev: number): void {
    const client = this.client!
    const pending = client.pendingOps.reduce<TextOp>((acc, op) => textType.compose(acc, op), [])
    const remote = diffOp(this.serverText, content)
    const pendingOnContent = textType.transform(pending, remote, 'left')
    const localRemote = textType.transform(remote, pending, 'right')
    client.reset(rev)
    this.serverText = content
    if (localRemote.length > 0) this.applyRemote(localRemote)
    if (pendingOnContent.length > 0) client.applyClient(pendingOnContent)
  }

  /** onCommitted applies one committed op; false means a gap forced a reconnect. */
  private onCommitted(m: CommittedOpMessage): boolean {
    const client = this.client
    if (!client) return false
    let local: TextOp | null
    try {
      local = client.applyServer(m.rev, m.op, m.id)
    } catch (e) {
      if (e instanceof RevisionGapError) {
        this.conn.reconnectNow()
        return false
      }
      throw e
    }
    if (client.rev !== m.rev) return true // a duplicate
    this.remember(m.rev, m.op)
    if (local) this.applyRemote(local)
    this.afterServerProgress()
    return true
  }

  private onAck(id: string, rev: number): void {
    const client = this.client
    if (!client || client.state.name === 'Synchronized') return
    const inflight = client.state.inflight
    try {
      if (!client.serverAck(id, rev)) return
    } catch (e) {
      if (e instanceof RevisionGapError) {
        this.conn.reconnectNow()
        return
      }
      throw e
    }
    this.remember(rev, inflight.op)
    if (this.snap.savingPaused) this.update({ savingPaused: false })
    this.afterServerProgress()
  }

  private remember(rev: number, op: TextOp): void {
    this.serverText = textType.apply(this.serverText, op)
    this.recentOps.push({ rev, op })
    if (this.recentOps.length > RECENT_OPS) this.recentOps.shift()
    for (const fn of this.serverOpListeners) fn(rev, op)
  }

  private afterServerProgress(): void {
    this.refreshCounters()
    if (this.cursorDirty) this.scheduleCursor()
  }

  private applyRemote(op: TextOp): void {
    const before = this.text
    this.text = textType.apply(before, op)
    this.history.transformRemote(op)
    this.transformCursors(op)
    this.emitText({ kind: 'op', op, before, after: this.text, own: false })
  }

  private transformCursors(op: TextOp): void {
    for (const c of this.cursorsByConn.values()) {
      c.anchor = textType.transformPosition(c.anchor, op)
      c.head = textType.transformPosition(c.head, op)
    }
  }

  private onCursor(m: CursorMessage): void {
    const key = m.conn_id ?? m.user_id
    if (m.removed) {
      this.cursorsByConn.delete(key)
      this.update({ cursors: [...this.cursorsByConn.values()] })
      return
    }
    const client = this.client
    if (!client) return
    let anchor: number
    let head: number
    if (typeof m.anchor === 'number' && typeof m.head === 'number') {
      anchor = m.anchor
      head = m.head
    } else if (m.position && typeof m.position.lineNumber === 'number' && typeof m.position.column === 'number') {
      // A seed-dialect client: a line/column caret in the current text.
      anchor = head = lineColumnToCodePoint(this.text, m.position.lineNumber, m.position.column)
    } else {
      return
    }
    const rev = typeof m.rev === 'number' ? m.rev : client.rev
    // Bring the position from the sender's revision to ours, then over our pending ops.
    for (const r of this.recentOps) {
      if (r.rev > rev && r.rev <= client.rev) {
        anchor = textType.transformPosition(anchor, r.op)
        head = textType.transformPosition(head, r.op)
      }
    }
    for (const op of client.pendingOps) {
      anchor = textType.transformPosition(anchor, op)
      head = textType.transformPosition(head, op)
    }
    const max = codePointLength(this.text)
    const cursor: RemoteCursor = {
      conn_id: key,
      user_id: m.user_id,
      username: m.username ?? `user ${m.user_id}`,
      color: m.color ?? '#61afef',
      anchor: Math.min(Math.max(0, anchor), max),
      head: Math.min(Math.max(0, head), max),
    }
    this.cursorsByConn.set(key, cursor)
    this.update({ cursors: [...this.cursorsByConn.values()] })
  }

  private onChat(m: ChatMessage & { client_msg_id?: string }): void {
    if (m.id !== undefined && this.snap.chat.some((e) => e.id === m.id)) return
    if (m.client_msg_id && this.snap.chat.some((e) => e.client_msg_id === m.client_msg_id)) {
      // Our own message echoed back (a server that echoes): it is the ack.
      const chat = this.snap.chat.map((e) =>
        e.client_msg_id === m.client_msg_id ? { ...e, id: m.id, timestamp: m.timestamp, pending: false } : e,
      )
      this.update({ chat })
      return
    }
    const unread = this.chatOpen ? 0 : this.snap.unreadChat + 1
    this.update({ chat: [...this.snap.chat, chatEntry(m)], unreadChat: unread })
  }

  private onError(code: string, message: string, id?: string): void {
    const client = this.client
    const inflightId = client && client.state.name !== 'Synchronized' ? client.state.inflight.id : null
    if (id !== undefined && id === inflightId) {
      if (RETRYABLE.has(code)) {
        if (code === 'unavailable' && !this.snap.savingPaused) this.update({ savingPaused: true })
        if (this.retryOpTimer === null) {
          this.retryOpTimer = setTimeout(() => {
            this.retryOpTimer = null
            this.client?.resend(true)
          }, 1000)
        }
        return
      }
      // The server refused our edit, so our view of the text is wrong: say so
      // and start over from the server's text rather than resend it forever.
      this.update({ problem: `An edit was refused (${message}); reloaded the server's text.` })
      this.freshJoin = 'drop'
      this.conn.reconnectNow()
      return
    }
    if (code === 'bad_revision') {
      // Our revision is ahead of the server (its data was replaced): start over from its text.
      this.freshJoin = 'keep'
      this.conn.reconnectNow()
    }
    this.update({ problem: message })
  }
}

function chatEntry(m: ChatMessage): ChatEntry {
  return {
    key: `srv-${m.id}`,
    id: m.id,
    user_id: m.user_id,
    username: m.username,
    message: m.message,
    timestamp: m.timestamp,
    pending: false,
  }
}

/** lineColumnToCodePoint maps a 1-based Monaco-style line/column (UTF-16 columns) to a code point offset. */
export function lineColumnToCodePoint(text: string, lineNumber: number, column: number): number {
  let offset = 0
  for (let line = 1; line < lineNumber; line++) {
    const nl = text.indexOf('\n', offset)
    if (nl < 0) return codePointLength(text)
    offset = nl + 1
  }
  const lineEnd = text.indexOf('\n', offset)
  const end = lineEnd < 0 ? text.length : lineEnd
  let at = Math.min(offset + Math.max(0, column - 1), end)
  // Never split a surrogate pair.
  const c = text.charCodeAt(at - 1)
  if (at > 0 && c >= 0xd800 && c <= 0xdbff) at--
  return codePointLength(text.slice(0, at))
}

function storagePrefix(userId: string | undefined, docId: string): string {
  return `gdoc.unsaved.${userId ?? 'anon'}.${docId}.`
}
