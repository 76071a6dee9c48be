// The wire contract with the G-Doc server (docs/protocol.md): every REST shape
// and every WebSocket message, in one place.

import type { TextOp } from 'ot-text-unicode'

export type { TextOp }

// ---- REST ----

export interface User {
  id: string
  username: string
  email: string
}

export interface AuthResponse {
  access_token: string
  token_type: 'bearer'
  user: User
}

export interface RegisterRequest {
  username: string
  email: string
  password: string
}

export interface LoginRequest {
  username: string
  password: string
}

/** What a user may do with a document: owner (everything), editor, viewer (read, chat, cursor). */
export type Role = 'owner' | 'editor' | 'viewer'

/** Who besides the owner and members has access: public (listed), link (anyone with the id), private. */
export type Visibility = 'public' | 'link' | 'private'

export interface DocumentSummary {
  id: string
  title: string
  language: string
  owner_id: string
  is_public: boolean
  rev: number
  created_at: string
  updated_at: string
  owner_username?: string
  visibility?: Visibility
  /** What signed-in non-members get on a public or link document. */
  link_role?: 'editor' | 'viewer'
  /** The caller's effective role; null when not signed in. */
  role?: Role | null
  /** In lists: the caller is a member (not the owner). */
  shared?: boolean
}

/** A member of a document (the owner is listed first with role owner). */
export interface Member {
  user_id: string
  username: string
  role: Role
}

export interface Document extends DocumentSummary {
  content: string
}

export interface CreateDocumentRequest {
  title: string
  content?: string
  language?: string
  is_public?: boolean
}

export interface UpdateDocumentRequest {
  title?: string
  content?: string
  language?: string
  is_public?: boolean
  visibility?: Visibility
  link_role?: 'editor' | 'viewer'
}

/** The body of every REST error. */
export interface ErrorBody {
  detail: string
}

// ---- WebSocket: shared pieces ----

export interface PresenceUser {
  user_id: string
  username: string
  color: string
  connections?: number
}

export interface ChatMessage {
  type: 'chat'
  id: number
  user_id: string
  username: string
  message: string
  /** Unix seconds with a fraction. */
  timestamp: number
}

export interface CommittedOpMessage {
  rev: number
  op: TextOp
  id: string
  user_id?: string
  username?: string
}

// ---- WebSocket: server -> client ----

export interface InitMessage {
  type: 'init'
  user_id: string
  username: string
  active_users: string[]
  /** Absent when the client reconnected with ?since= and the server sends ops instead. */
  content?: string
  rev: number
  color?: string
  conn_id?: string
  users?: PresenceUser[]
  document?: Pick<DocumentSummary, 'id' | 'title' | 'language' | 'owner_id' | 'is_public'>
  chat?: ChatMessage[]
  /** Catch-up: every op with since < rev <= head, in order. */
  ops?: CommittedOpMessage[]
  /** The server could not serve ops since the client's rev: content replaces the text. */
  reset?: boolean
  /** The user's role on the document: a viewer's edits are refused. */
  role?: Role
  /** The open comment threads and their replies, anchors at rev. */
  comments?: Comment[]
}

export interface OpMessage extends CommittedOpMessage {
  type: 'op'
}

export interface AckMessage {
  type: 'ack'
  id: string
  rev: number
}

export interface CursorMessage {
  type: 'cursor'
  user_id: string
  username?: string
  color?: string
  conn_id?: string
  rev?: number
  anchor?: number
  head?: number
  removed?: boolean
  position?: { lineNumber: number; column: number }
  selection?: unknown
}

export interface ChatAckMessage {
  type: 'chat_ack'
  client_msg_id: string
  id: number
  timestamp: number
}

export interface UserJoinedMessage {
  type: 'user_joined'
  user_id: string
  username: string
  color?: string
}

export interface UserLeftMessage {
  type: 'user_left'
  user_id: string
  username: string
}

export interface PongMessage {
  type: 'pong'
}

export interface ErrorMessage {
  type: 'error'
  code: string
  message: string
  id?: string
}

/** The document's title, language or publicity changed (PUT /api/documents/{id}). */
export interface DocumentChangedMessage {
  type: 'document'
  document: Pick<DocumentSummary, 'id' | 'title' | 'language' | 'owner_id' | 'is_public'>
  user_id: string
  username: string
}

/** The user's role changed while connected; it applies from the next message. */
export interface AccessChangedMessage {
  type: 'access'
  role: Role
}

/** Seed dialect only; an OT client never receives it but tolerates it. */
export interface UpdateMessage {
  type: 'update'
  user_id: string
  username: string
  data: { content: string }
  timestamp: number
}

// ---- Reviewing: comments (REST and live) and viewports ----

/** A comment: a thread (parent_id null) anchored to code points [from, to) at rev, or a reply. */
export interface Comment {
  id: number
  parent_id: number | null
  user_id: string
  username: string
  body: string
  created_at: string
  updated_at: string
  resolved: boolean
  detached: boolean
  anchor: { rev: number; from: number; to: number }
  /** The text the thread's range covered when it was written. */
  quote?: string
}

/** A change to the document's comments, sent to every connection. */
export interface CommentEvent {
  type: 'comment'
  action: 'created' | 'updated' | 'resolved' | 'deleted'
  comment: Comment
}

/** What part of the text a connection shows, who it follows and whether it presents. */
export interface ViewportMessage {
  type: 'viewport'
  conn_id: string
  user_id: string
  username: string
  color?: string
  first_line: number
  last_line: number
  following?: string
  presenting?: boolean
}

export type ServerMessage =
  | InitMessage
  | OpMessage
  | AckMessage
  | CursorMessage
  | ChatMessage
  | ChatAckMessage
  | UserJoinedMessage
  | UserLeftMessage
  | PongMessage
  | ErrorMessage
  | DocumentChangedMessage
  | AccessChangedMessage
  | UpdateMessage
  | CommentEvent
  | ViewportMessage

// ---- WebSocket: client -> server ----

export type ClientMessage =
  | { type: 'op'; rev: number; op: TextOp; id: string }
  | { type: 'cursor'; rev: number; anchor: number; head: number }
  | { type: 'chat'; message: string; client_msg_id: string }
  | { type: 'ping' }
  | { type: 'viewport'; first_line: number; last_line: number; following?: string; presenting?: boolean }

/** The subprotocol that selects the OT dialect. */
export const OT_SUBPROTOCOL = 'gdoc.v1'

/** Document ids the server accepts. */
export const DOCUMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

// ---- Wire limits (the server's values: testdata/limits.json, checked by protocol.test.ts) ----

/** The largest WebSocket frame the server reads, in bytes. */
export const MAX_MESSAGE_BYTES = 1_048_576
/** An op id ("<client id>:<seq>"), in UTF-8 bytes. */
export const MAX_OP_ID_BYTES = 256
/** A client id, in UTF-8 bytes. */
export const MAX_CLIENT_ID_BYTES = 128
/** One string field of a cursor message, in UTF-8 bytes. */
export const MAX_CURSOR_FIELD_BYTES = 1024
/** Chat messages are 1..2000 Unicode code points after trimming (as the server counts). */
export const MAX_CHAT_CHARS = 2000
/** How many chat messages init carries, and one page of GET /api/documents/{id}/chat. */
export const CHAT_HISTORY_LIMIT = 50
/**
 * A document's text, in UTF-8 bytes: the default of the server's
 * MAX_DOCUMENT_BYTES setting (the server does not announce its value, so
 * the editor assumes the default). An edit past it is refused locally.
 */
export const MAX_DOCUMENT_BYTES = 4_194_304
/** The text one op may insert, in UTF-8 bytes: the default of MAX_OP_BYTES. */
export const MAX_OP_BYTES = 1_048_576

// ---- WebSocket close codes ----

/** The application close codes the server ends a connection with (docs/protocol.md). */
export const CLOSE_CODES = {
  /** Missing, invalid, expired or revoked token. */
  unauthenticated: 4401,
  /** The document is private to someone else (or was made private). */
  forbidden: 4403,
  /** No such document, or it was deleted. */
  not_found: 4404,
  /** ?since= is ahead of the server (an error bad_revision comes first). */
  bad_revision: 4409,
  /** A frame over MAX_MESSAGE_BYTES. */
  too_large: 4413,
  /** The client read too slowly and its send queue filled up. */
  slow_consumer: 4429,
  /** The server is shutting down. */
  going_away: 1001,
  /** The server failed. */
  internal_error: 1011,
} as const

export type CloseCodeName = keyof typeof CLOSE_CODES
export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName]

/** RefusalCode is a close that retrying cannot fix: the client stops and says why. */
export type RefusalCode =
  | typeof CLOSE_CODES.unauthenticated
  | typeof CLOSE_CODES.forbidden
  | typeof CLOSE_CODES.not_found
  | typeof CLOSE_CODES.bad_revision
  | typeof CLOSE_CODES.too_large

const REFUSALS: ReadonlySet<number> = new Set<RefusalCode>([
  CLOSE_CODES.unauthenticated,
  CLOSE_CODES.forbidden,
  CLOSE_CODES.not_found,
  CLOSE_CODES.bad_revision,
  CLOSE_CODES.too_large,
])

/**
 * isRefusal decides from the close code alone whether to stop: 4401, 4403,
 * 4404, 4409 and 4413 stop; everything else (1001, 1006, 1011, 4429 and any
 * code this client does not know) is worth reconnecting for.
 */
export function isRefusal(code: number): code is RefusalCode {
  return REFUSALS.has(code)
}

/** refusalMessage says in plain words why the connection stopped. */
export function refusalMessage(code: RefusalCode): string {
  switch (code) {
    case CLOSE_CODES.unauthenticated:
      return 'Your sign-in has expired. Sign in again to keep editing.'
    case CLOSE_CODES.forbidden:
      return 'You no longer have access to this document.'
    case CLOSE_CODES.not_found:
      return 'This document was deleted.'
    case CLOSE_CODES.bad_revision:
      return 'The server has an older copy of this document than this tab. Reconnect to continue from the server’s copy.'
    case CLOSE_CODES.too_large:
      return 'A change was too large for the server to accept.'
  }
}

/** parseServerMessage decodes one frame, or returns null for anything that is not a typed object. */
export function parseServerMessage(data: string): ServerMessage | null {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return null
  }
  return value as ServerMessage
}
