// UnsavedStore keeps a session's unacknowledged edits in Web Storage
// (localStorage in the browser), so a reload or a closed tab loses none: the
// next tab of the same user and document claims the entry and resumes it.

import type { SavedClient } from './otClient'

/** KeyValueStorage is the part of the Web Storage API the store uses. */
export interface KeyValueStorage {
  readonly length: number
  key(index: number): string | null
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** SavedSession is one stored entry: the OT client's state and the server text it rests on. */
export interface SavedSession {
  v: 1
  client: SavedClient
  serverText: string
}

export class UnsavedStore {
  private readonly storage: KeyValueStorage | null
  private readonly prefix: string
  private readonly key: string | null
  /** snapshot returns what to keep now, or null when nothing is unsaved. */
  private readonly snapshot: () => SavedSession | null
  private timer: ReturnType<typeof setTimeout> | null = null
  private persisted = false

  constructor(opts: {
    storage?: KeyValueStorage | null
    userId?: string
    docId: string
    clientId: string
    snapshot: () => SavedSession | null
  }) {
    this.storage = opts.storage ?? null
    this.prefix = storagePrefix(opts.userId, opts.docId)
    this.key = this.storage ? `${this.prefix}${opts.clientId}` : null
    this.snapshot = opts.snapshot
  }

  /**
   * claim takes one saved entry for this user and document (left by a closed
   * tab or a reload) out of storage; a corrupt entry is dropped.
   */
  claim(): SavedSession | null {
    const storage = this.storage
    if (!storage) return null
    let key: string | null = null
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i)
      if (k !== null && k.startsWith(this.prefix)) {
        key = k
        break
      }
    }
    if (key === null) return null
    const raw = storage.getItem(key)
    storage.removeItem(key)
    try {
      const saved = JSON.parse(raw ?? '') as SavedSession
      return saved.v === 1 ? saved : null
    } catch {
      return null
    }
  }

  /** changed tells the store the unsaved count; it saves soon when there is something to keep or to clear. */
  changed(unsaved: number): void {
    if (this.key && (this.persisted || unsaved > 0)) this.schedule()
  }

  schedule(): void {
    if (!this.key || this.timer !== null) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.persistNow()
    }, 300)
  }

  persistNow(): void {
    const storage = this.storage
    if (!storage || !this.key) return
    try {
      const saved = this.snapshot()
      if (!saved) {
        if (this.persisted) storage.removeItem(this.key)
        this.persisted = false
        return
      }
      storage.setItem(this.key, JSON.stringify(saved))
      this.persisted = true
    } catch {
      /* storage full or unavailable: edits are still kept in memory */
    }
  }

  /** stop saves what is left now (the tab is closing or the page is left). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.persistNow()
  }
}

function storagePrefix(userId: string | undefined, docId: string): string {
  return `gdoc.unsaved.${userId ?? 'anon'}.${docId}.`
}
