// REST calls to the G-Doc server. Failures raise ApiError carrying the
// server's `detail`; a 401 signs the user out and sends them to /login.

import { clearAuth, getToken } from './auth'
import type {
  AuthResponse,
  ChatMessage,
  CreateDocumentRequest,
  Document,
  DocumentSummary,
  ErrorBody,
  LoginRequest,
  Member,
  PresenceUser,
  RegisterRequest,
  UpdateDocumentRequest,
  User,
} from './protocol'
import { navigate } from './router'

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, detail: string) {
    super(detail)
    this.name = 'ApiError'
    this.status = status
  }
}

interface RequestOptions {
  method?: string
  body?: unknown
  /** When false, a 401 is returned to the caller (login form) instead of redirecting. */
  redirectOn401?: boolean
}

async function request<T>(path: string, opts: RequestOptions = {}, retried = false): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
  } catch {
    throw new ApiError(0, 'Cannot reach the server. Check your connection.')
  }
  // A refresh (here or in another tab) revoked the token this request
  // carried while it was under way: send it again with the new one.
  if (res.status === 401 && !retried && token && getToken() && getToken() !== token && opts.redirectOn401 !== false) {
    return request<T>(path, opts, true)
  }
  if (res.status === 401 && opts.redirectOn401 !== false) {
    clearAuth()
    const here = location.pathname + location.search
    if (location.pathname !== '/login') navigate(`/login?next=${encodeURIComponent(here)}`, true)
  }
  if (!res.ok) throw new ApiError(res.status, await errorDetail(res))
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

async function errorDetail(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as Partial<ErrorBody> & { title?: string; errors?: { message?: string }[] }
    if (typeof body.detail === 'string' && body.detail) {
      const extra = body.errors?.map((e) => e.message).filter(Boolean) ?? []
      return extra.length > 0 ? `${body.detail}: ${extra.join('; ')}` : body.detail
    }
    if (typeof body.title === 'string') return body.title
  } catch {
    /* not JSON */
  }
  return `Request failed (${res.status} ${res.statusText})`
}

const enc = encodeURIComponent

export const api = {
  register: (body: RegisterRequest) =>
    request<AuthResponse>('/api/auth/register', { method: 'POST', body, redirectOn401: false }),
  login: (body: LoginRequest) => request<AuthResponse>('/api/auth/login', { method: 'POST', body, redirectOn401: false }),
  // A refresh that fails (another tab rotated the token first) signs no one
  // out: auth.ts then takes the token that tab stored.
  refresh: () => request<AuthResponse>('/api/auth/refresh', { method: 'POST', redirectOn401: false }),
  logout: () => request<void>('/api/auth/logout', { method: 'POST', redirectOn401: false }),
  me: () => request<User>('/api/auth/me'),
  listDocuments: () => request<DocumentSummary[] | { documents: DocumentSummary[] }>('/api/documents').then(unwrapList),
  createDocument: (body: CreateDocumentRequest) => request<Document>('/api/documents', { method: 'POST', body }),
  getDocument: (id: string) => request<Document>(`/api/documents/${enc(id)}`),
  updateDocument: (id: string, body: UpdateDocumentRequest) =>
    request<Document>(`/api/documents/${enc(id)}`, { method: 'PUT', body }),
  members: (id: string) => request<{ members: Member[] }>(`/api/documents/${enc(id)}/members`).then((r) => r.members),
  setMember: (id: string, username: string, role: 'editor' | 'viewer') =>
    request<Member>(`/api/documents/${enc(id)}/members/${enc(username)}`, { method: 'PUT', body: { role } }),
  removeMember: (id: string, username: string) =>
    request<void>(`/api/documents/${enc(id)}/members/${enc(username)}`, { method: 'DELETE' }),
  transferOwner: (id: string, username: string) =>
    request<Document>(`/api/documents/${enc(id)}/owner`, { method: 'POST', body: { username } }),
  documentUsers: (id: string) => request<PresenceUser[]>(`/api/documents/${enc(id)}/users`),
  chatBefore: (id: string, beforeId: number) =>
    request<ChatMessage[] | { messages: ChatMessage[] }>(`/api/documents/${enc(id)}/chat?before=${beforeId}&limit=50`).then(
      (r) => (Array.isArray(r) ? r : r.messages),
    ),
}

function unwrapList(r: DocumentSummary[] | { documents: DocumentSummary[] }): DocumentSummary[] {
  return Array.isArray(r) ? r : (r.documents ?? [])
}

/** wsUrl is the document's WebSocket URL on this origin, with ?since= when catching up. */
export function wsUrl(docId: string, since: number | null): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const q = since === null ? '' : `?since=${since}`
  return `${proto}//${location.host}/ws/${enc(docId)}${q}`
}

/** apiRequest is the one REST call helper, for modules that add their own routes (review/). */
export { request as apiRequest }
