// A tiny client-side router: the current location as React state, and navigate().

import { useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()

function notify(): void {
  for (const fn of listeners) fn()
}

if (typeof window !== 'undefined') window.addEventListener('popstate', notify)

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to)
  else history.pushState(null, '', to)
  notify()
}

function subscribe(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

const currentHref = () => location.pathname + location.search

/** useLocation returns the path and query string, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, currentHref)
  const url = new URL(href, 'http://x')
  return { path: url.pathname, query: url.searchParams }
}

/** safeNext keeps ?next= to same-site paths so a link cannot send the user elsewhere. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/'
  return next
}
