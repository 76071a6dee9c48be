// Follow mode and presenting. Every connection sends its viewport (first
// and last visible line, throttled), who it follows and whether it
// presents; the server relays them like cursors. Following someone keeps
// their viewport and cursor in view until you scroll or move on your own,
// which stops it (and says so). Presenting asks everyone to follow: each
// person gets a prompt and chooses; nobody is made to follow.

import type { editor as MonacoEditorNS } from 'monaco-editor/editor'
import type { DocumentSession } from '../collab/session'
import type { ViewportMessage } from '../protocol'

type CodeEditor = MonacoEditorNS.IStandaloneCodeEditor

export interface PeerView {
  connId: string
  userId: string
  username: string
  firstLine: number
  lastLine: number
  following: string | null
  presenting: boolean
}

export interface FollowSnapshot {
  /** The user id this page follows, or null. */
  following: string | null
  presenting: boolean
  /** Presenters (user ids) whose request awaits an answer here. */
  prompts: string[]
  /** The latest viewport of each other connection. */
  peers: PeerView[]
  /** A sentence about what just happened ("You stopped following alice."). */
  notice: string | null
}

const SEND_EVERY_MS = 150
const USER_INPUT_MS = 800

export class Follow {
  private snap: FollowSnapshot = { following: null, presenting: false, prompts: [], peers: [], notice: null }
  private readonly listeners = new Set<() => void>()
  private readonly session: DocumentSession
  private readonly peers = new Map<string, PeerView>()
  private readonly answered = new Set<string>() // presenters answered (until they stop)
  private editor: CodeEditor | null = null
  private offs: (() => void)[] = []
  private sendTimer: ReturnType<typeof setTimeout> | null = null
  private lastSent = 0
  private lastSentKey = ''
  private autoScroll = false
  private lastUserInput = 0
  private noticeTimer: ReturnType<typeof setTimeout> | null = null

  constructor(session: DocumentSession) {
    this.session = session
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  getSnapshot = (): FollowSnapshot => this.snap

  private update(patch: Partial<FollowSnapshot>): void {
    this.snap = { ...this.snap, ...patch }
    for (const fn of this.listeners) fn()
  }

  start(): void {
    this.offs.push(
      this.session.onMessage((m) => {
        switch (m.type) {
          case 'viewport':
            return this.onViewport(m)
          case 'init':
          case 'user_joined':
            // Newcomers learn where everyone is, and who presents.
            return this.sendSoon(true)
          case 'cursor':
            if (m.removed && m.conn_id) this.dropPeer(m.conn_id)
            if (this.snap.following === m.user_id && !m.removed) queueMicrotask(() => this.keepInView('cursor'))
            return
          case 'user_left':
            for (const p of [...this.peers.values()]) if (p.userId === m.user_id) this.dropPeer(p.connId)
            return
        }
      }),
    )
  }

  stop(): void {
    for (const off of this.offs) off()
    this.offs = []
    if (this.sendTimer) clearTimeout(this.sendTimer)
    if (this.noticeTimer) clearTimeout(this.noticeTimer)
  }

  /** attach connects the follow logic to the mounted editor. */
  attach(ed: CodeEditor): () => void {
    this.editor = ed
    const dom = ed.getDomNode()
    const input = () => {
      this.lastUserInput = Date.now()
    }
    const events = ['wheel', 'mousedown', 'keydown', 'touchstart'] as const
    for (const e of events) dom?.addEventListener(e, input, { capture: true, passive: true })
    const subs = [
      ed.onDidScrollChange((e) => {
        if (!e.scrollTopChanged) return
        if (!this.autoScroll && this.snap.following && Date.now() - this.lastUserInput < USER_INPUT_MS) {
          this.unfollow('you scrolled')
        }
        this.sendSoon(false)
      }),
      ed.onDidLayoutChange(() => this.sendSoon(false)),
      ed.onDidChangeCursorSelection((e) => {
        if (this.snap.following && (e.source === 'mouse' || e.source === 'keyboard') && Date.now() - this.lastUserInput < USER_INPUT_MS) {
          this.unfollow('you moved the cursor')
        }
      }),
    ]
    this.sendSoon(true)
    return () => {
      for (const e of events) dom?.removeEventListener(e, input, { capture: true })
      for (const s of subs) s.dispose()
      if (this.editor === ed) this.editor = null
    }
  }

  // ---- what others show ----

  private onViewport(m: ViewportMessage): void {
    const prev = this.peers.get(m.conn_id)
    const view: PeerView = {
      connId: m.conn_id,
      userId: m.user_id,
      username: m.username,
      firstLine: m.first_line,
      lastLine: m.last_line,
      following: m.following || null,
      presenting: m.presenting === true,
    }
    this.peers.set(m.conn_id, view)
    const me = this.session.getSnapshot().me?.user_id
    let prompts = this.snap.prompts
    if (view.userId !== me) {
      const presenting = this.presentingUsers()
      // A presenter who stopped may ask again later.
      for (const id of [...this.answered]) if (!presenting.has(id)) this.answered.delete(id)
      prompts = prompts.filter((id) => presenting.has(id))
      if (view.presenting && !prev?.presenting && !this.answered.has(view.userId) && this.snap.following !== view.userId && !prompts.includes(view.userId)) {
        prompts = [...prompts, view.userId]
      }
    }
    this.update({ peers: [...this.peers.values()], prompts })
    if (this.snap.following === view.userId) this.keepInView('viewport')
  }

  private dropPeer(connId: string): void {
    if (!this.peers.delete(connId)) return
    const presenting = this.presentingUsers()
    this.update({ peers: [...this.peers.values()], prompts: this.snap.prompts.filter((id) => presenting.has(id)) })
    const f = this.snap.following
    if (f && ![...this.peers.values()].some((p) => p.userId === f) && !this.session.getSnapshot().users.some((u) => u.user_id === f)) {
      this.unfollow('they left')
    }
  }

  private presentingUsers(): Set<string> {
    return new Set([...this.peers.values()].filter((p) => p.presenting).map((p) => p.userId))
  }

  nameOf(userId: string): string {
    return (
      [...this.peers.values()].find((p) => p.userId === userId)?.username ??
      this.session.getSnapshot().users.find((u) => u.user_id === userId)?.username ??
      'someone'
    )
  }

  // ---- following ----

  follow(userId: string): void {
    const me = this.session.getSnapshot().me?.user_id
    if (userId === me) return
    this.answered.add(userId)
    this.update({ following: userId, prompts: this.snap.prompts.filter((id) => id !== userId), notice: `Following ${this.nameOf(userId)}. Scroll or click in the editor to stop.` })
    this.keepInView('viewport')
    this.sendSoon(true)
  }

  /** toggle follows userId, or stops following them. */
  toggle(userId: string): void {
    if (this.snap.following === userId) this.unfollow(null)
    else this.follow(userId)
  }

  unfollow(why: string | null): void {
    const was = this.snap.following
    if (!was) return
    this.update({ following: null, notice: `You stopped following ${this.nameOf(was)}${why ? ` (${why})` : ''}.` })
    this.clearNoticeLater()
    this.sendSoon(true)
  }

  /** answer is this page's choice on a presenter's request. */
  answer(presenterId: string, accept: boolean): void {
    this.answered.add(presenterId)
    this.update({ prompts: this.snap.prompts.filter((id) => id !== presenterId) })
    if (accept) this.follow(presenterId)
  }

  setPresenting(on: boolean): void {
    this.update({ presenting: on, notice: on ? 'You are presenting: everyone is asked to follow you.' : 'You stopped presenting.' })
    if (on && this.snap.following) this.update({ following: null })
    this.clearNoticeLater()
    this.sendSoon(true)
  }

  private clearNoticeLater(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer)
    this.noticeTimer = setTimeout(() => this.update({ notice: null }), 8000)
  }

  /**
   * keepInView shows what the followed user shows: their viewport when it
   * changed, their cursor when it moved out of what this page shows.
   */
  private keepInView(what: 'viewport' | 'cursor'): void {
    const ed = this.editor
    const target = this.snap.following
    const model = ed?.getModel()
    if (!ed || !model || !target) return
    const lines = model.getLineCount()
    let top: number | null = null
    if (what === 'viewport') {
      const views = [...this.peers.values()].filter((p) => p.userId === target)
      const view = views[views.length - 1]
      if (view) top = Math.min(Math.max(1, view.firstLine), lines)
    } else {
      const cursor = this.session.getSnapshot().cursors.find((c) => c.user_id === target)
      const at = cursor ? safePosition(model, this.session.text, cursor.head) : null
      const shown = ed.getVisibleRanges()
      if (at !== null && shown.length > 0) {
        const first = shown[0].startLineNumber
        const last = shown[shown.length - 1].endLineNumber
        if (at < first || at > last) top = Math.max(1, at - Math.floor((last - first) / 2))
      }
    }
    if (top === null) return
    const scrollTop = ed.getTopForLineNumber(top)
    if (Math.abs(ed.getScrollTop() - scrollTop) < 1) return
    this.autoScroll = true
    try {
      ed.setScrollTop(scrollTop, 1 /* Immediate */)
    } finally {
      this.autoScroll = false
    }
  }

  // ---- what this page shows ----

  private sendSoon(force: boolean): void {
    if (this.sendTimer) {
      if (force) this.lastSentKey = ''
      return
    }
    const wait = Math.max(0, this.lastSent + SEND_EVERY_MS - Date.now())
    if (force) this.lastSentKey = ''
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null
      this.sendNow()
    }, wait)
  }

  private sendNow(): void {
    const ed = this.editor
    const ranges = ed?.getVisibleRanges() ?? []
    if (!ed || ranges.length === 0) return
    const first = ranges[0].startLineNumber
    const last = ranges[ranges.length - 1].endLineNumber
    const msg = {
      type: 'viewport' as const,
      first_line: first,
      last_line: Math.max(first, last),
      ...(this.snap.following ? { following: this.snap.following } : {}),
      ...(this.snap.presenting ? { presenting: true } : {}),
    }
    const key = JSON.stringify(msg)
    if (key === this.lastSentKey) return
    if (this.session.send(msg)) {
      this.lastSent = Date.now()
      this.lastSentKey = key
    }
  }
}

/** safePosition is the line of code point offset cp of text, or null. */
function safePosition(model: MonacoEditorNS.ITextModel, text: string, cp: number): number | null {
  try {
    let utf16 = 0
    for (let n = 0; n < cp && utf16 < text.length; n++) {
      const c = text.charCodeAt(utf16)
      utf16 += c >= 0xd800 && c <= 0xdbff ? 2 : 1
    }
    return model.getPositionAt(utf16).lineNumber
  } catch {
    return null
  }
}
