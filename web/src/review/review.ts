// The review side of a document: its comment threads (REST, and live
// events once the WebSocket carries them), the composer for a new thread
// on a selection, and chat links to lines. Positions the server gives at a
// revision are moved to the local text with the session's recent ops, the
// same rule the server uses (collab/range.ts).

import { ApiError, apiRequest } from '../api'
import type { DocumentSession } from '../collab/session'
import type { Comment, CommentEvent } from '../protocol'
import type { TextRange } from '../collab/range'
import { transformRange } from '../collab/range'
import type { TextOp } from '../collab/textOp'
import type { LineLink } from './links'
import { lineRange } from './links'
import { reviewBus } from './bus'
import { RevisionMap } from './revisions'

export type { Comment }
export type { CommentEvent }

export interface Thread {
  root: Comment
  replies: Comment[]
  /** Where the thread's code is in the local text; null while unknown. */
  range: TextRange | null
}

/** Draft is a thread being written: the selection is tracked by the editor. */
export interface Draft {
  lines: string
}

export interface ReviewSnapshot {
  threads: Thread[]
  loaded: boolean
  panelOpen: boolean
  focused: number | null
  draft: Draft | null
  problem: string | null
  ownerId: string | null
}

/** EditorHooks is what the Monaco side provides (editorReview.ts). */
export interface EditorHooks {
  /** The draft's selection in code points of the session's text, as it is now. */
  draftRange(): TextRange | null
  clearDraft(): void
  reveal(range: TextRange, why: 'link' | 'thread'): void
}

const enc = encodeURIComponent

export class Review {
  private comments = new Map<number, Comment>()
  private snap: ReviewSnapshot = { threads: [], loaded: false, panelOpen: false, focused: null, draft: null, problem: null, ownerId: null }
  private readonly listeners = new Set<() => void>()
  private editor: EditorHooks | null = null
  private reloadTimer: ReturnType<typeof setTimeout> | null = null
  private pollTimer: ReturnType<typeof setInterval> | null = null
  private offs: (() => void)[] = []
  private lastRev = -1
  readonly session: DocumentSession
  readonly docId: string
  private revisions: RevisionMap | null = null

  constructor(docId: string, session: DocumentSession) {
    this.docId = docId
    this.session = session
  }

  /** start listens to the session; call it before the session starts, so no op is missed. */
  start(): void {
    const session = this.session
    const revisions = new RevisionMap(session)
    this.revisions = revisions
    this.offs = [
      () => revisions.dispose(),
      reviewBus.notices.on((problem) => this.update({ problem, panelOpen: true })),
      session.onText(() => this.relocate()),
      session.subscribe(() => {
        const rev = session.getSnapshot().rev
        if (rev !== this.lastRev) {
          this.lastRev = rev
          this.relocate()
        }
      }),
      session.onMessage((m) => {
        if (m.type === 'comment') this.onEvent(m)
        else if (m.type === 'init' && Array.isArray(m.comments)) this.onInit(m.comments)
      }),
    ]
    void this.reload()
    void apiRequest<{ owner_id: string }>(`/api/documents/${enc(this.docId)}`)
      .then((d) => this.update({ ownerId: d.owner_id }))
      .catch(() => {})
    // A backstop for missed live events (and the only refresh on a server
    // that does not send them): cheap, and only while the page is visible.
    this.pollTimer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.reload()
    }, 15_000)
  }

  stop(): void {
    for (const off of this.offs) off()
    this.offs = []
    this.revisions = null
    if (this.pollTimer) clearInterval(this.pollTimer)
    if (this.reloadTimer) clearTimeout(this.reloadTimer)
  }

  attachEditor(hooks: EditorHooks | null): void {
    this.editor = hooks
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  getSnapshot = (): ReviewSnapshot => this.snap

  private update(patch: Partial<ReviewSnapshot>): void {
    this.snap = { ...this.snap, ...patch }
    for (const fn of this.listeners) fn()
  }

  // ---- the list ----

  async reload(): Promise<void> {
    try {
      const r = await apiRequest<{ comments: Comment[] }>(`/api/documents/${enc(this.docId)}/comments`)
      this.setAll(r.comments)
    } catch (e) {
      this.update({ problem: e instanceof ApiError ? `Comments: ${e.message}` : 'Could not load the comments.' })
    }
  }

  /** setAll replaces the comments (a REST answer, or init's open threads). */
  setAll(list: Comment[]): void {
    this.comments = new Map(list.map((c) => [c.id, c]))
    this.rebuild(true)
  }

  /**
   * onInit takes the open threads a (re)joined connection receives; the
   * resolved ones known stay, and the whole list is refreshed behind.
   */
  private onInit(open: Comment[]): void {
    const resolved = [...this.comments.values()].filter((c) => c.resolved)
    this.setAll([...resolved, ...open])
    void this.reload()
  }

  /** onEvent applies a live `comment` event. */
  onEvent(ev: CommentEvent): void {
    const c = ev.comment
    if (ev.action === 'deleted') {
      this.comments.delete(c.id)
      for (const [id, o] of this.comments) if (o.parent_id === c.id) this.comments.delete(id)
    } else {
      this.comments.set(c.id, c)
      if (c.parent_id === null) {
        // The thread's anchor and flags are its replies' too.
        for (const [id, o] of this.comments) {
          if (o.parent_id === c.id) this.comments.set(id, { ...o, anchor: c.anchor, resolved: c.resolved, detached: c.detached })
        }
      }
    }
    this.rebuild(false)
  }

  private rebuild(loaded: boolean): void {
    const byThread = new Map<number, Thread>()
    const sorted = [...this.comments.values()].sort((a, b) => a.id - b.id)
    for (const c of sorted) if (c.parent_id === null) byThread.set(c.id, { root: c, replies: [], range: null })
    for (const c of sorted) if (c.parent_id !== null) byThread.get(c.parent_id)?.replies.push(c)
    const threads = [...byThread.values()]
    this.locate(threads)
    this.update({ threads, loaded: loaded || this.snap.loaded, problem: loaded ? null : this.snap.problem })
  }

  /** relocate moves every thread's range to the current local text. */
  private relocate(): void {
    const threads = this.snap.threads.map((t) => ({ ...t }))
    this.locate(threads)
    this.update({ threads })
  }

  private locate(threads: Thread[]): void {
    let stale = false
    for (const t of threads) {
      const a = t.root.anchor
      const at = this.revisions?.toServerHead(a.rev, { from: a.from, to: a.to, detached: t.root.detached })
      if (!at) {
        if (a.rev < this.session.serverRev) stale = true
        t.range = null
        continue
      }
      if (at.rev !== a.rev) {
        // Keep the anchor at the head, so the next move replays only newer ops.
        const moved = { anchor: { rev: at.rev, from: at.range.from, to: at.range.to }, detached: t.root.detached || at.range.detached === true }
        t.root = { ...t.root, ...moved }
        this.comments.set(t.root.id, t.root)
        t.replies = t.replies.map((r) => ({ ...r, ...moved }))
        for (const r of t.replies) this.comments.set(r.id, r)
      }
      t.range = this.revisions!.withPending(at.range)
    }
    // Anchors older than the ops this client keeps: the server moves them.
    if (stale) this.scheduleReload()
  }

  private scheduleReload(): void {
    if (this.reloadTimer) return
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null
      void this.reload()
    }, 500)
  }

  // ---- the panel ----

  setPanelOpen(open: boolean): void {
    this.update({ panelOpen: open })
    if (open) void this.reload()
  }

  focus(threadId: number | null): void {
    this.update({ focused: threadId, panelOpen: threadId !== null ? true : this.snap.panelOpen })
    const t = this.snap.threads.find((x) => x.root.id === threadId)
    if (t?.range) this.editor?.reveal(t.range, 'thread')
  }

  /** beginDraft opens the composer for the editor's tracked selection. */
  beginDraft(lines: string): void {
    this.update({ draft: { lines }, panelOpen: true, focused: null, problem: null })
  }

  cancelDraft(): void {
    this.editor?.clearDraft()
    this.update({ draft: null })
  }

  /**
   * submitDraft posts a new thread on the draft's selection. The anchor must
   * be at a revision the server knows, so it waits (bounded) until the
   * session's own edits are saved: then the local text is the server's.
   */
  async submitDraft(body: string): Promise<string | null> {
    const deadline = Date.now() + 10_000
    while (this.session.getSnapshot().unsaved > 0) {
      if (Date.now() > deadline) return 'Your latest edits are not saved yet; try again in a moment.'
      await new Promise((r) => setTimeout(r, 100))
    }
    const range = this.editor?.draftRange()
    if (!range || range.to <= range.from) return 'The selected code is gone; select it again.'
    const anchor = { rev: this.session.serverRev, from: range.from, to: range.to }
    try {
      const c = await apiRequest<Comment>(`/api/documents/${enc(this.docId)}/comments`, { method: 'POST', body: { anchor, body } })
      this.comments.set(c.id, c)
      this.editor?.clearDraft()
      this.update({ draft: null, focused: c.id })
      this.rebuild(false)
      return null
    } catch (e) {
      return e instanceof ApiError ? e.message : 'Could not post the comment.'
    }
  }

  private async mutate(path: string, method: string, body?: unknown): Promise<string | null> {
    try {
      const c = await apiRequest<Comment | undefined>(`/api/documents/${enc(this.docId)}/comments${path}`, { method, body })
      if (c) this.onEvent({ type: 'comment', action: 'updated', comment: c })
      return null
    } catch (e) {
      return e instanceof ApiError ? e.message : 'The server did not answer; try again.'
    }
  }

  reply(threadId: number, body: string): Promise<string | null> {
    return this.mutate('', 'POST', { parent_id: threadId, body })
  }

  edit(id: number, body: string): Promise<string | null> {
    return this.mutate(`/${id}`, 'PATCH', { body })
  }

  setResolved(id: number, resolved: boolean): Promise<string | null> {
    return this.mutate(`/${id}`, 'PATCH', { resolved })
  }

  async remove(id: number): Promise<string | null> {
    const problem = await this.mutate(`/${id}`, 'DELETE')
    if (!problem) this.onEvent({ type: 'comment', action: 'deleted', comment: { ...this.comments.get(id)!, id } })
    return problem
  }

  // ---- chat links ----

  /**
   * openLink scrolls the editor to a chat link's lines, moved from the
   * revision it was written at to the current text; it returns a sentence
   * when the lines are gone or unknown.
   */
  async openLink(link: LineLink): Promise<string | null> {
    let range: TextRange | null
    if (!link.at) {
      range = lineRange(this.session.text, link.startLine, link.endLine)
      if (!range) return `There is no line ${link.startLine} now.`
    } else {
      range = await this.fromRevision(link.at.rev, { from: link.at.from, to: link.at.to })
      if (!range) return 'Could not find where those lines are now.'
    }
    this.editor?.reveal(range, 'link')
    return range.detached ? 'Those lines were deleted since; this is where they were.' : null
  }

  /** fromRevision moves a range at rev to the local text, asking the server for old ops. */
  private async fromRevision(rev: number, range: TextRange): Promise<TextRange | null> {
    for (let i = 0; i < 20; i++) {
      const local = this.revisions?.map(rev, range)
      if (local) return local
      if (rev > this.session.serverRev) {
        await new Promise((r) => setTimeout(r, 150)) // the writer is ahead: wait for their edits
        continue
      }
      // Older than the ops this client keeps: move it with the server's log.
      const head = this.session.serverRev
      let r = range
      let from = rev
      while (from < head) {
        const ops = await apiRequest<{ rev: number; op: TextOp }[]>(`/api/documents/${enc(this.docId)}/ops?from=${from}&to=${head}`)
        if (ops.length === 0) return null
        for (const o of ops) r = transformRange(r, o.op)
        from = ops[ops.length - 1].rev
      }
      range = r
      rev = head
    }
    return null
  }
}
