// The client half of the OT protocol, as named states (ot.js lib/client.js):
// at most one op in flight, later local edits buffered, server ops transformed
// against both. Pure: no socket, no editor.

import { OP_PIECE_BYTES, opCost, splitOp } from './splitOp'
import type { TextOp } from './textOp'
import { textType } from './textOp'

/** One local op sent (or to be sent) to the server under a stable id. */
export interface PendingOp {
  id: string
  op: TextOp
  /** How many local edits were composed into op. */
  edits: number
}

export interface Synchronized {
  readonly name: 'Synchronized'
}
export interface AwaitingConfirm {
  readonly name: 'AwaitingConfirm'
  readonly inflight: PendingOp
}
export interface AwaitingWithBuffer {
  readonly name: 'AwaitingWithBuffer'
  readonly inflight: PendingOp
  readonly buffer: TextOp
  readonly bufferEdits: number
  /**
   * Ops after buffer, each sent on its own once the one before it is acked:
   * the pieces of an edit too large for one op (splitOp.ts), and what was
   * typed after them. Absent when empty (and in state saved before it existed).
   */
  readonly later?: readonly BufferedOp[]
}

/** BufferedOp is a local op waiting its turn; edits counts the local edits it completes. */
export interface BufferedOp {
  op: TextOp
  edits: number
}
export type ClientState = Synchronized | AwaitingConfirm | AwaitingWithBuffer

const synchronized: Synchronized = { name: 'Synchronized' }

/** RevisionGapError means a server op skipped revisions: the client must resync. */
export class RevisionGapError extends Error {
  constructor(have: number, got: number) {
    super(`server op rev ${got} does not follow rev ${have}`)
    this.name = 'RevisionGapError'
  }
}

/** SavedClient is what survives a page reload: enough to resend unacknowledged edits. */
export interface SavedClient {
  clientId: string
  seq: number
  rev: number
  state: ClientState
}

/** The side of the client channel: puts an op on the wire, reports whether it could. */
export type SendOp = (rev: number, op: TextOp, id: string) => boolean

export class OTClient {
  /** The last server revision this client has applied. */
  rev: number
  state: ClientState = synchronized
  readonly clientId: string
  private seq = 0
  private readonly send: SendOp
  /** Whether the in-flight op went out on the current link (so a reconnect must resend it). */
  private inflightSent = false
  /** The most one op sent may weigh (splitOp.opCost). */
  private readonly budget: number

  constructor(clientId: string, rev: number, send: SendOp, budget: number = OP_PIECE_BYTES) {
    this.clientId = clientId
    this.rev = rev
    this.send = send
    this.budget = budget
  }

  /** unsaved counts local edits the server has not acknowledged. */
  get unsaved(): number {
    switch (this.state.name) {
      case 'Synchronized':
        return 0
      case 'AwaitingConfirm':
        return this.state.inflight.edits
      case 'AwaitingWithBuffer':
        return this.state.inflight.edits + this.state.bufferEdits + (this.state.later ?? []).reduce((n, b) => n + b.edits, 0)
    }
  }

  /** pendingOps lists the unacknowledged local ops in order (in flight first). */
  get pendingOps(): TextOp[] {
    switch (this.state.name) {
      case 'Synchronized':
        return []
      case 'AwaitingConfirm':
        return [this.state.inflight.op]
      case 'AwaitingWithBuffer':
        return [this.state.inflight.op, this.state.buffer, ...(this.state.later ?? []).map((b) => b.op)]
    }
  }

  /** save captures the client for restore after a reload. */
  save(): SavedClient {
    return { clientId: this.clientId, seq: this.seq, rev: this.rev, state: this.state }
  }

  /** restore rebuilds a saved client; its in-flight op counts as not sent on this link. */
  static restore(saved: SavedClient, send: SendOp, budget?: number): OTClient {
    const c = new OTClient(saved.clientId, saved.rev, send, budget)
    c.seq = saved.seq
    c.state = saved.state
    return c
  }

  private nextId(): string {
    this.seq++
    return `${this.clientId}:${this.seq}`
  }

  /**
   * applyClient records a local op that is already applied to the local text.
   * An op heavier than the budget goes out as several consecutive ops, each
   * acked before the next is sent; the edit counts as unsaved until its last
   * piece is acked. A later edit is composed into the last waiting op only
   * while that stays within the budget.
   */
  applyClient(op: TextOp): void {
    if (op.length === 0) return
    const pieces = splitOp(op, this.budget)
    pieces.forEach((piece, i) => this.applyPiece(piece, i === pieces.length - 1 ? 1 : 0))
  }

  private applyPiece(op: TextOp, edits: number): void {
    const s = this.state
    switch (s.name) {
      case 'Synchronized': {
        const inflight = { id: this.nextId(), op, edits }
        this.state = { name: 'AwaitingConfirm', inflight }
        this.inflightSent = this.send(this.rev, inflight.op, inflight.id)
        return
      }
      case 'AwaitingConfirm':
        this.state = { name: 'AwaitingWithBuffer', inflight: s.inflight, buffer: op, bufferEdits: edits }
        return
      case 'AwaitingWithBuffer': {
        const later = s.later ?? []
        const last = later.length > 0 ? later[later.length - 1].op : s.buffer
        const composed = textType.compose(last, op)
        const fits = opCost(composed) <= this.budget
        if (later.length === 0) {
          this.state = fits
            ? { name: 'AwaitingWithBuffer', inflight: s.inflight, buffer: composed, bufferEdits: s.bufferEdits + edits }
            : { ...s, later: [{ op, edits }] }
          return
        }
        const lastEdits = later[later.length - 1].edits
        this.state = {
          ...s,
          later: fits ? [...later.slice(0, -1), { op: composed, edits: lastEdits + edits }] : [...later, { op, edits }],
        }
        return
      }
    }
  }

  /**
   * applyServer takes a committed op at revision rev and returns the op to
   * apply to the local text, or null when there is nothing to apply: a
   * duplicate of an op already applied, or the client's own in-flight op (its
   * acknowledgement, as in catch-up after a reconnect).
   */
  applyServer(rev: number, op: TextOp, id?: string): TextOp | null {
    if (rev <= this.rev) return null
    if (rev !== this.rev + 1) throw new RevisionGapError(this.rev, rev)
    const s = this.state
    if (s.name !== 'Synchronized' && id !== undefined && id === s.inflight.id) {
      this.serverAck(id, rev)
      return null
    }
    this.rev = rev
    switch (s.name) {
      case 'Synchronized':
        return op
      case 'AwaitingConfirm': {
        // The server transforms our op on side "left" over ops committed before it.
        const inflightOp = textType.transform(s.inflight.op, op, 'left')
        const local = textType.transform(op, s.inflight.op, 'right')
        this.state = { name: 'AwaitingConfirm', inflight: { ...s.inflight, op: inflightOp } }
        return local
      }
      case 'AwaitingWithBuffer': {
        const inflightOp = textType.transform(s.inflight.op, op, 'left')
        const op1 = textType.transform(op, s.inflight.op, 'right')
        const buffer = textType.transform(s.buffer, op1, 'left')
        let local = textType.transform(op1, s.buffer, 'right')
        const later: BufferedOp[] = []
        for (const b of s.later ?? []) {
          later.push({ op: textType.transform(b.op, local, 'left'), edits: b.edits })
          local = textType.transform(local, b.op, 'right')
        }
        this.state = {
          name: 'AwaitingWithBuffer',
          inflight: { ...s.inflight, op: inflightOp },
          buffer,
          bufferEdits: s.bufferEdits,
          ...(later.length > 0 ? { later } : {}),
        }
        return local
      }
    }
  }

  /**
   * serverAck confirms the in-flight op as revision rev. An ack for any other
   * id is ignored (a late duplicate after a resend). Returns whether it matched.
   */
  serverAck(id: string, rev: number): boolean {
    const s = this.state
    if (s.name === 'Synchronized' || s.inflight.id !== id) return false
    if (rev !== this.rev + 1) throw new RevisionGapError(this.rev, rev)
    this.rev = rev
    if (s.name === 'AwaitingConfirm') {
      this.state = synchronized
      return true
    }
    const inflight = { id: this.nextId(), op: s.buffer, edits: s.bufferEdits }
    const later = s.later ?? []
    this.state =
      later.length > 0
        ? {
            name: 'AwaitingWithBuffer',
            inflight,
            buffer: later[0].op,
            bufferEdits: later[0].edits,
            ...(later.length > 1 ? { later: later.slice(1) } : {}),
          }
        : { name: 'AwaitingConfirm', inflight }
    this.inflightSent = this.send(this.rev, inflight.op, inflight.id)
    return true
  }

  /** disconnected records that the link dropped: whatever was in flight must go out again. */
  disconnected(): void {
    this.inflightSent = false
  }

  /**
   * resend puts the in-flight op on the wire again under its original id,
   * based on the current revision, unless it already went out on this link
   * (catch-up acked the old one and the buffer was just sent). Call it after
   * a reconnect's catch-up; pass force after the server asked for a retry.
   * The buffer follows once the in-flight op is acked.
   */
  resend(force = false): void {
    const s = this.state
    if (s.name === 'Synchronized' || (this.inflightSent && !force)) return
    this.inflightSent = this.send(this.rev, s.inflight.op, s.inflight.id)
  }

  /**
   * reset drops every pending op and starts over at rev; used only when the
   * server replaced the text wholesale. Returns the dropped ops.
   */
  reset(rev: number): TextOp[] {
    const dropped = this.pendingOps
    this.rev = rev
    this.state = synchronized
    return dropped
  }
}
