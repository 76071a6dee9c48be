// REST calls of the document history (docs/protocol.md "History").

import { ApiError } from '../api'
import { getToken } from '../auth'
import type { Document } from '../protocol'

export interface HistoryAuthor {
  user_id: string
  username: string
  color: string
}

export interface HistoryEntry {
  from_rev: number
  to_rev: number
  started_at: string
  ended_at: string
  authors: HistoryAuthor[]
  inserted: number
  deleted: number
  kind: 'edit' | 'restore'
  restored_rev?: number
}

export interface HistoryPage {
  entries: HistoryEntry[]
  start_rev: number
  head_rev: number
  next_before: number
}

export interface Revision {
  rev: number
  content: string
  created_at: string
  user_id: string
  username: string
}

export interface BlameLine {
  line: number
  user_id: string
  username: string
  color: string
  rev: number
  created_at: string
}

export interface BlameResult {
  rev: number
  lines: BlameLine[]
}

const enc = encodeURIComponent

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(path, { ...init, headers })
  } catch {
    throw new ApiError(0, 'Cannot reach the server. Check your connection.')
  }
  if (!res.ok) {
    let detail = `Request failed (${res.status})`
    try {
      const body = (await res.json()) as { detail?: string }
      if (body.detail) detail = body.detail
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, detail)
  }
  return res
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await (await call(path, init)).json()) as T
}

export const historyApi = {
  history: (id: string, before = 0, limit = 50) =>
    json<HistoryPage>(`/api/documents/${enc(id)}/history?before=${before}&limit=${limit}`),
  revision: (id: string, rev: number) => json<Revision>(`/api/documents/${enc(id)}/revisions/${rev}`),
  blame: (id: string, rev?: number) =>
    json<BlameResult>(`/api/documents/${enc(id)}/blame${rev === undefined ? '' : `?rev=${rev}`}`),
  restore: (id: string, rev: number) =>
    json<Document>(`/api/documents/${enc(id)}/restore`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ rev }),
    }),
  /** download saves the text (at rev, or the current text) as a file named by the server. */
  download: async (id: string, rev?: number) => {
    const res = await call(`/api/documents/${enc(id)}/download${rev === undefined ? '' : `?rev=${rev}`}`)
    const blob = await res.blob()
    const name = fileNameFrom(res.headers.get('Content-Disposition')) ?? 'document.txt'
    const url = URL.createObjectURL(blob)
    const a = document.createElement('a')
    a.href = url
    a.download = name
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
    return name
  },
}

/** fileNameFrom reads the file name of a Content-Disposition header (filename* first). */
export function fileNameFrom(header: string | null): string | null {
  if (!header) return null
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[1])
    } catch {
      /* fall back to filename= */
    }
  }
  const plain = /filename="([^"]*)"/i.exec(header)
  return plain ? plain[1] : null
}

/** when formats a time for the history list. */
export function when(iso: string): string {
  const d = new Date(iso)
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function safeColor(c: string): string {
  return /^#[0-9a-fA-F]{3,8}$/.test(c) ? c : '#61afef'
}
