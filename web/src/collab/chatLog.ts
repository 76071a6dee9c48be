// ChatLog is a document's chat as shown: the history from init and from
// paging back, the messages sent here (shown at once, pending until acked),
// the outbox of messages waiting for a link, and the unread count.

import type { ChatAckMessage, ChatMessage, ClientMessage } from '../protocol'
import { CHAT_HISTORY_LIMIT, MAX_CHAT_CHARS } from '../protocol'
import { codePointLength } from './offsets'

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

/** ChatState is the part of the session snapshot the chat log owns. */
export interface ChatState {
  chat: ChatEntry[]
  unreadChat: number
  /** Whether older chat history may exist on the server. */
  olderChat: boolean
}

type Outgoing = { message: string; client_msg_id: string }

export class ChatLog {
  private state: ChatState = { chat: [], unreadChat: 0, olderChat: false }
  private outbox: Outgoing[] = []
  private open = false
  private readonly send: (m: ClientMessage) => boolean
  private readonly onChange: (s: ChatState) => void
  private readonly newId: () => string

  constructor(opts: { send: (m: ClientMessage) => boolean; onChange: (s: ChatState) => void; newId: () => string }) {
    this.send = opts.send
    this.onChange = opts.onChange
    this.newId = opts.newId
  }

  get entries(): ChatEntry[] {
    return this.state.chat
  }

  /** hasQueued is whether a message is still waiting for a link. */
  get hasQueued(): boolean {
    return this.outbox.length > 0
  }

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch }
    this.onChange(this.state)
  }

  /** post shows the message at once and sends it (or queues it while offline); it returns an error to show, or null. */
  post(raw: string, me: { user_id: string; username: string } | null, nowMs: number): string | null {
    const message = raw.trim()
    if (message.length === 0) return 'Message is empty'
    if (codePointLength(message) > MAX_CHAT_CHARS) return `Message is longer than ${MAX_CHAT_CHARS} characters`
    const client_msg_id = this.newId()
    const entry: ChatEntry = {
      key: `local-${client_msg_id}`,
      id: null,
      user_id: me?.user_id ?? '',
      username: me?.username ?? 'me',
      message,
      timestamp: nowMs / 1000,
      pending: true,
      client_msg_id,
    }
    this.set({ chat: [...this.state.chat, entry] })
    if (!this.send({ type: 'chat', message, client_msg_id })) this.outbox.push({ message, client_msg_id })
    return null
  }

  setOpen(open: boolean): void {
    this.open = open
    if (open && this.state.unreadChat !== 0) this.set({ unreadChat: 0 })
  }

  /** loadOlder prepends the page of history before the oldest message shown. */
  async loadOlder(fetchOlder: ((beforeId: number) => Promise<ChatMessage[]>) | undefined): Promise<void> {
    const oldest = this.state.chat.find((m) => m.id !== null)
    if (!oldest || !fetchOlder) return
    const page = await fetchOlder(oldest.id!)
    const known = new Set(this.state.chat.map((m) => m.id))
    const older = page.filter((m) => !known.has(m.id)).map(chatEntry)
    this.set({ chat: [...older, ...this.state.chat], olderChat: page.length > 0 })
  }

  /** linkDown queues the messages sent on the lost link but not acked: the next init settles them. */
  linkDown(): void {
    const queued = new Set(this.outbox.map((m) => m.client_msg_id))
    for (const e of this.state.chat) {
      if (e.pending && e.client_msg_id && !queued.has(e.client_msg_id)) {
        this.outbox.push({ message: e.message, client_msg_id: e.client_msg_id })
      }
    }
  }

  /** joined merges the history in init (firstJoin: the page has shown none yet). */
  joined(history: ChatMessage[], myId: string, firstJoin: boolean): void {
    const current = this.settleOutbox(history, myId)
    const known = new Set(current.filter((e) => e.id !== null).map((e) => e.id))
    const fresh = history.filter((c) => !known.has(c.id)).map(chatEntry)
    const patch: Partial<ChatState> = { chat: firstJoin ? [...fresh, ...current] : [...current, ...fresh] }
    if (firstJoin) patch.olderChat = history.length >= CHAT_HISTORY_LIMIT
    this.set(patch)
  }

  /** flush sends the queued messages (after init). */
  flush(): void {
    for (const msg of this.outbox.splice(0)) {
      if (!this.send({ type: 'chat', ...msg })) this.outbox.push(msg)
    }
  }

  ack(m: ChatAckMessage): void {
    this.confirm(m.client_msg_id, m.id, m.timestamp)
  }

  receive(m: ChatMessage & { client_msg_id?: string }): void {
    if (m.id !== undefined && this.state.chat.some((e) => e.id === m.id)) return
    if (m.client_msg_id && this.state.chat.some((e) => e.client_msg_id === m.client_msg_id)) {
      // Our own message echoed back (a server that echoes): it is the ack.
      this.confirm(m.client_msg_id, m.id, m.timestamp)
      return
    }
    const unread = this.open ? 0 : this.state.unreadChat + 1
    this.set({ chat: [...this.state.chat, chatEntry(m)], unreadChat: unread })
  }

  private confirm(clientMsgId: string, id: number, timestamp: number): void {
    const chat = this.state.chat.map((e) => (e.client_msg_id === clientMsgId ? { ...e, id, timestamp, pending: false } : e))
    this.set({ chat })
  }

  // settleOutbox matches queued chat against the history in init: a message
  // of ours with the same text there reached the server before the link
  // dropped (its ack was lost), so it is confirmed instead of sent twice.
  private settleOutbox(history: ChatMessage[], myId: string): ChatEntry[] {
    let chat = this.state.chat
    const claimed = new Set(chat.filter((e) => e.id !== null).map((e) => e.id))
    for (const msg of [...this.outbox]) {
      const entry = chat.find((e) => e.client_msg_id === msg.client_msg_id)
      const match = history.find(
        (h) => h.user_id === myId && h.message === msg.message && !claimed.has(h.id) && entry !== undefined && h.timestamp >= entry.timestamp - 60,
      )
      if (!match) continue
      claimed.add(match.id)
      this.outbox = this.outbox.filter((o) => o !== msg)
      chat = chat.map((e) =>
        e.client_msg_id === msg.client_msg_id ? { ...e, id: match.id, timestamp: match.timestamp, pending: false } : e,
      )
    }
    return chat
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
