// The client half of the OT protocol, as named states (ot.js lib/client.js):
// at most one op in flight, later local edits buffered, server ops transformed
// against both. Pure: no socket, no editor.

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

  constructor(clientId: string, rev: number, send: SendOp) {
    this.clientId = clientId
    this.rev = rev
    this.send = send
  }

  /** unsaved counts local edits the server has not acknowledged. */
  get unsaved(): number {
    switch (this.state.name) {
      case 'Synchronized':
        return 0
      case 'AwaitingConfirm':
        return this.state.inflight.edits
      case 'AwaitingWithBuffer':
        return this.state.inflight.edits + this.state.bufferEdits
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
        return [this.state.inflight.op, this.state.buffer]
    }
  }

  /** save captures the client for restore after a reload. */
  save(): SavedClient {
    return { clientId: this.clientId, seq: this.seq, rev: this.rev, state: this.state }
  }

  /** restore rebuilds a saved client; its in-flight op counts as not sent on this link. */
  static restore(saved: SavedClient, send: SendOp): OTClient {
    const c = new OTClient(saved.clientId, saved.rev, send)
    c.seq = saved.seq
    c.state = saved.state
    return c
  }

  private nextId(): string {
    this.seq++
    return `${this.clientId}:${this.seq}`
  }

  /** applyClient records a local op that is already applied to the local text. */
  applyClient(op: TextOp): void {
    if (op.length === 0) return
    const s = this.state
    switch (s.name) {
      case 'Synchronized': {
        const inflight = { id: this.nextId(), op, edits: 1 }
        this.state = { name: 'AwaitingConfirm', inflight }
        this.inflightSent = this.send(this.rev, inflight.op, inflight.id)
        return
      }
      case 'AwaitingConfirm':
        this.state = { name: 'AwaitingWithBuffer', inflight: s.inflight, buffer: op, bufferEdits: 1 }
        return
      case 'AwaitingWithBuffer':
        this.state = {
          name: 'AwaitingWithBuffer',
          inflight: s.inflight,
          buffer: textType.compose(s.buffer, op),
          bufferEdits: s.bufferEdits + 1,
        }
        return
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
        const local = textType.transform(op1, s.buffer, 'right')
        this.state = {
          name: 'AwaitingWithBuffer',
          inflight: { ...s.inflight, op: inflightOp },
          buffer,
          bufferEdits: s.bufferEdits,
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
    this.state = { name: 'AwaitingConfirm', inflight }
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
