// The signed-in user and their token, kept in localStorage, refreshed before
// the token expires (POST /api/auth/refresh). A refresh revokes the old
// token, so every tab follows the token another tab stored ('storage' events).

import { useSyncExternalStore } from 'react'
import type { AuthResponse, User } from './protocol'

const KEY = 'gdoc.auth'

export interface AuthState {
  token: string
  user: User
}

const listeners = new Set<() => void>()
let state: AuthState | null = load()
let refreshTimer: ReturnType<typeof setTimeout> | null = null

function load(): AuthState | null {
  try {
    const raw = localStorage.getItem(KEY)
    if (!raw) return null
    const parsed = JSON.parse(raw) as AuthState
    if (typeof parsed.token !== 'string' || !parsed.user) return null
    const exp = tokenExpiry(parsed.token)
    if (exp !== null && exp * 1000 <= Date.now()) return null
    return parsed
  } catch {
    return null
  }
}

export function getAuth(): AuthState | null {
  return state
}

export function getToken(): string | null {
  return state?.token ?? null
}

export function setAuth(res: AuthResponse): void {
  state = { token: res.access_token, user: res.user }
  localStorage.setItem(KEY, JSON.stringify(state))
  scheduleRefresh()
  for (const fn of listeners) fn()
}

export function clearAuth(): void {
  state = null
  localStorage.removeItem(KEY)
  if (refreshTimer !== null) clearTimeout(refreshTimer)
  refreshTimer = null
  for (const fn of listeners) fn()
}

// Another tab refreshed, signed in or signed out: take its state, so this tab
// never keeps using a token the refresh revoked.
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (ev) => {
    if (ev.key !== KEY && ev.key !== null) return
    const next = load()
    if (next?.token === state?.token) return
    state = next
    scheduleRefresh()
    for (const fn of listeners) fn()
  })
}

export function useAuth(): AuthState | null {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    () => state,
  )
}

/** tokenExpiry reads the JWT's exp (Unix seconds) without verifying it, or null. */
export function tokenExpiry(token: string): number | null {
  const claims = tokenClaims(token)
  return claims && typeof claims.exp === 'number' ? claims.exp : null
}

function tokenClaims(token: string): { exp?: unknown; iat?: unknown } | null {
  const part = token.split('.')[1]
  if (!part) return null
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'))
    return JSON.parse(json) as { exp?: unknown; iat?: unknown }
  } catch {
    return null
  }
}

let refresher: (() => Promise<AuthResponse>) | null = null

/** startSessionRefresh installs the refresh call and schedules it for the current token. */
export function startSessionRefresh(refresh: () => Promise<AuthResponse>): void {
  refresher = refresh
  scheduleRefresh()
}

// Refresh when a quarter of the token's life is left (at most a day early),
// minus up to a minute at random so that tabs sharing a token rarely refresh
// at once (the second would present a token the first just revoked).
function scheduleRefresh(): void {
  if (refreshTimer !== null) clearTimeout(refreshTimer)
  refreshTimer = null
  if (!state || !refresher) return
  const claims = tokenClaims(state.token)
  if (!claims || typeof claims.exp !== 'number') return
  const exp = claims.exp * 1000
  const iat = typeof claims.iat === 'number' ? claims.iat * 1000 : exp - 7 * 86_400_000
  const margin = Math.min(86_400_000, (exp - iat) / 4)
  const jitter = Math.random() * Math.min(60_000, margin / 2)
  const wait = Math.min(Math.max(0, exp - margin - jitter - Date.now()), 2_000_000_000)
  const run = refresher
  const token = state.token
  refreshTimer = setTimeout(() => {
    run().then(setAuth, () => {
      // Another tab may have refreshed first: its token is in localStorage.
      const stored = load()
      if (stored && stored.token !== token) {
        state = stored
        scheduleRefresh()
        for (const fn of listeners) fn()
      }
      /* otherwise the token stays until it expires; a 401 then signs out */
    })
  }, wait)
}
