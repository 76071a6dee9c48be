// DocumentSession is one open document, the coordinator of its parts: the
// local text and the OT client, the per-user undo history, presence, the
// remote cursors (remoteCursors.ts), the chat log (chatLog.ts) and the
// unsaved-edits store (unsavedStore.ts), driven by one Connection. React
// renders its snapshots; the Monaco binding feeds it local edits and applies
// the text changes it announces.

import type {
  ChatMessage,
  ClientMessage,
  CommittedOpMessage,
  InitMessage,
  PresenceUser,
  RefusalCode,
  Role,
  ServerMessage,
} from '../protocol'
import { CLOSE_CODES, MAX_DOCUMENT_BYTES, refusalMessage } from '../protocol'
import type { ChatEntry, ChatState } from './chatLog'
import { ChatLog } from './chatLog'
import type { LinkStatus, SocketFactory } from './connection'
import { Connection } from './connection'
import { OTClient, RevisionGapError } from './otClient'
import type { RemoteCursor } from './remoteCursors'
import { RemoteCursors } from './remoteCursors'
import { insertedBytes, utf8Bytes } from './splitOp'
import type { TextOp } from './textOp'
import { diffOp, textType } from './textOp'
import { UndoHistory } from './undo'
import type { KeyValueStorage, SavedSession } from './unsavedStore'
import { UnsavedStore } from './unsavedStore'

export type { ChatEntry, KeyValueStorage, RemoteCursor }

export interface SessionSnapshot extends ChatState {
  loaded: boolean
  status: LinkStatus
  unsaved: number
  rev: number
  me: { user_id: string; username: string; color: string } | null
  users: PresenceUser[]
  title: string
  language: string
  cursors: RemoteCursor[]
  /** A problem the user should know about (refused connection, rejected edit). */
  problem: string | null
  /** Why the connection stopped for good (a close code retrying cannot fix), or null. */
  refusal: RefusalCode | null
  /**
   * The server answered the in-flight edit `unavailable` (its database is
   * down or full): edits are kept and resent until one is acknowledged.
   */
  savingPaused: boolean
  /** The user's role as the server last said (init, then access messages); null until known. */
  role: Role | null
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
  /** onRefused is told the close code when the connection stopped for good. */
  onRefused?: (code: RefusalCode, reason: string) => void
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

const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal'])

/** What the editor says when a local edit would take the document past MAX_DOCUMENT_BYTES. */
export const TOO_LARGE_PASTE = 'This paste would make the document larger than 4 MiB; nothing was pasted.'

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
  private readonly unsavedStore: UnsavedStore
  private readonly cursors = new RemoteCursors()
  private readonly chat: ChatLog
  private readonly textListeners = new Set<(c: TextChange) => void>()
  private readonly listeners = new Set<() => void>()
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
    if (this.snap.unsaved > 0 || this.chat.hasQueued) {
      e.preventDefault()
      e.returnValue = ''
    }
  }

  constructor(opts: SessionOptions) {
    this.opts = opts
    this.docId = opts.docId
    this.clientId = opts.clientId ?? newClientId()
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
      role: null,
      refusal: null,
      savingPaused: false,
      olderChat: false,
    }
    this.unsavedStore = new UnsavedStore({
      storage: opts.storage,
      userId: opts.userId,
      docId: opts.docId,
      clientId: this.clientId,
      snapshot: () => {
        const c = this.client
        return c && c.unsaved > 0 ? { v: 1, client: c.save(), serverText: this.serverText } : null
      },
    })
    this.chat = new ChatLog({
      send: (m) => this.conn.send(m),
      onChange: (chat) => this.update(chat),
      newId: newClientId,
    })
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
        if (why.code === CLOSE_CODES.bad_revision) this.freshJoin = 'keep'
        this.chat.linkDown()
        this.cursors.clear()
        this.update({ cursors: [] })
      },
      // "Connected" waits for the first init: before it there is no text to edit.
      onStatus: (status) => this.update({ status: status === 'connected' && !this.snap.loaded ? 'connecting' : status }),
      onRefused: (code, reason) => {
        this.update({ problem: refusalMessage(code), refusal: code })
        opts.onRefused?.(code, reason)
      },
    })
  }

  // ---- unsaved edits that survive a reload ----

  private readonly sendOp = (rev: number, op: TextOp, id: string) => this.conn.send({ type: 'op', rev, op, id })

  // restoreUnsaved claims one saved entry for this user and document (left by
  // a closed tab or a reload) and resumes it: same client id, same op ids, so
  // the server's dedupe and the catch-up make the resend exactly-once.
  private restoreUnsaved(): boolean {
    const saved: SavedSession | null = this.unsavedStore.claim()
    if (!saved) return false
    try {
      const client = OTClient.restore(saved.client, this.sendOp)
      let text = saved.serverText
      for (const op of client.pendingOps) text = textType.apply(text, op)
      this.client = client
      this.serverText = saved.serverText
      this.text = text
      this.update({ unsaved: client.unsaved, rev: client.rev })
      this.unsavedStore.schedule()
      return true
    } catch {
      return false // a corrupt entry is dropped
    }
  }

  private readonly onPageHide = () => this.unsavedStore.persistNow()

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
    this.unsavedStore.stop()
    if (this.cursorTimer !== null) clearTimeout(this.cursorTimer)
    if (this.retryOpTimer !== null) clearTimeout(this.retryOpTimer)
    this.conn.stop()
  }

  /** reconnect drops the socket and catches up again (used by tests and the status button). */
  reconnect(): void {
    if (this.snap.refusal !== null) this.update({ refusal: null, problem: null })
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
    const c = this.client
    this.unsavedStore.changed(c ? c.unsaved : 0)
    this.update({
      unsaved: c ? c.unsaved : 0,
      rev: c ? c.rev : 0,
      cursors: this.cursors.list(),
    })
  }

  private emitText(c: TextChange): void {
    for (const fn of this.textListeners) fn(c)
  }

  // ---- local edits ----

  /**
   * applyLocal records an edit the user made in the editor (already shown
   * there): it updates the text, the undo history and sends it. An edit that
   * would take the document past MAX_DOCUMENT_BYTES is refused: nothing
   * changes, the problem says why, and it returns false so that the editor
   * takes the edit back. (A large edit within the cap is sent in pieces.)
   */
  applyLocal(op: TextOp): boolean {
    if (op.length === 0 || !this.client) return true
    const before = this.text
    const after = textType.apply(before, op)
    if (this.overCap(before, after, op)) {
      this.update({ problem: TOO_LARGE_PASTE })
      return false
    }
    if (this.snap.problem === TOO_LARGE_PASTE) this.update({ problem: null })
    this.text = after
    this.history.recordLocal(op, before, (this.opts.now ?? Date.now)())
    this.cursors.transform(op)
    this.client.applyClient(op)
    this.refreshCounters()
    return true
  }

  /** overCap: the edit grows the text past MAX_DOCUMENT_BYTES (UTF-8 takes at most 3 bytes per UTF-16 unit). */
  private overCap(before: string, after: string, op: TextOp): boolean {
    if (after.length * 3 <= MAX_DOCUMENT_BYTES) return false
    if (before.length * 3 + insertedBytes(op) <= MAX_DOCUMENT_BYTES) return false
    const size = utf8Bytes(after)
    // A text already past the cap (a server set higher) may still shrink.
    return size > MAX_DOCUMENT_BYTES && size > utf8Bytes(before)
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
    this.cursors.transform(op)
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
    return this.chat.post(raw, this.snap.me, (this.opts.now ?? Date.now)())
  }

  setChatOpen(open: boolean): void {
    this.chat.setOpen(open)
  }

  /** loadOlderChat prepends the page of history before the oldest message shown. */
  loadOlderChat(): Promise<void> {
    return this.chat.loadOlder(this.opts.fetchOlderChat)
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
      case 'cursor': {
        const c = this.client
        const local = c ? { text: this.text, rev: c.rev, pendingOps: c.pendingOps } : null
        if (this.cursors.receive(m, local)) this.update({ cursors: this.cursors.list() })
        return
      }
      case 'chat':
        return this.chat.receive(m)
      case 'chat_ack':
        return this.chat.ack(m)
      case 'user_joined': {
        if (this.snap.users.some((u) => u.user_id === m.user_id)) return
        const color = m.color ?? '#61afef'
        this.update({ users: [...this.snap.users, { user_id: m.user_id, username: m.username, color }] })
        return
      }
      case 'user_left': {
        this.cursors.removeUser(m.user_id)
        this.update({
          users: this.snap.users.filter((u) => u.user_id !== m.user_id),
          cursors: this.cursors.list(),
        })
        return
      }
      case 'document':
        return this.update({ title: m.document.title, language: m.document.language || 'plaintext' })
      case 'access':
        return this.update({ role: m.role })
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
    const patch: Partial<SessionSnapshot> = { me, users, problem: null, refusal: null }
    if (m.role) patch.role = m.role
    if (m.document) {
      patch.title = m.document.title
      patch.language = m.document.language || 'plaintext'
    }
    if (m.chat) this.chat.joined(m.chat, m.user_id, !this.snap.loaded)
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
      this.cursors.forgetOps()
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
    this.update({ loaded: true, status: this.conn.status })
    this.refreshCounters()
    this.chat.flush()
    this.cursorDirty = true
    this.flushCursor()
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
    this.cursors.remember(rev, op)
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
    this.cursors.transform(op)
    this.emitText({ kind: 'op', op, before, after: this.text, own: false })
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
