import { describe, expect, it } from 'vitest'
import { OTClient, RevisionGapError } from './otClient'
import type { TextOp } from './textOp'
import { textType } from './textOp'
import { jsonStringBytes, opCost } from './splitOp'
import { Authority, prng, randomOp, randomText } from './testkit'

type ToServer = { rev: number; op: TextOp; id: string }
type ToClient = { kind: 'op'; rev: number; op: TextOp; id: string } | { kind: 'ack'; id: string; rev: number }

/** Peer is one simulated browser tab: text, OT client and its two FIFO channels. */
class Peer {
  text: string
  client: OTClient
  up: ToServer[] = []
  down: ToClient[] = []
  connected = true
  sent = 0

  heaviest = 0

  constructor(name: string, text: string, rev: number, budget?: number) {
    this.text = text
    this.client = new OTClient(
      name,
      rev,
      (r, op, id) => {
        this.sent++
        // The text an op carries: transforms against concurrent ops may
        // split its components (a few bytes each) but never grow its text.
        this.heaviest = Math.max(this.heaviest, textCost(op))
        if (!this.connected) return false
        this.up.push({ rev: r, op, id })
        return true
      },
      budget,
    )
  }

  edit(op: TextOp): void {
    this.text = textType.apply(this.text, op)
    this.client.applyClient(op)
  }

  receive(m: ToClient): void {
    if (m.kind === 'ack') {
      this.client.serverAck(m.id, m.rev)
      return
    }
    const local = this.client.applyServer(m.rev, m.op, m.id)
    if (local) this.text = textType.apply(this.text, local)
  }
}

const textCost = (op: TextOp) =>
  op.reduce<number>((n, c) => n + (typeof c === 'string' ? jsonStringBytes(c) : typeof c === 'object' && typeof c.d === 'string' ? jsonStringBytes(c.d) : 0), 0)

function deliverUp(server: Authority, peers: Peer[], from: Peer): void {
  const m = from.up.shift()!
  const { rev, committed } = server.receive(m.rev, m.op, m.id)
  from.down.push({ kind: 'ack', id: m.id, rev })
  if (!committed) return
  for (const p of peers) {
    if (p !== from && p.connected) p.down.push({ kind: 'op', ...committed })
  }
}

/** reconnect does what the session does after ?since=<rev>: catch up, then resend. */
function reconnect(server: Authority, p: Peer): void {
  p.client.disconnected()
  p.connected = true
  p.up = []
  p.down = []
  for (const c of server.since(p.client.rev)) p.receive({ kind: 'op', ...c })
  p.client.resend()
}

function simulate(seed: number, peerCount: number, steps: number, churn: boolean, budget?: number): void {
  const rand = prng(seed)
  const server = new Authority('hello world')
  const peers = Array.from({ length: peerCount }, (_, i) => new Peer(`c${i}`, server.text, 0, budget))
  for (let step = 0; step < steps; step++) {
    const p = peers[Math.floor(rand() * peers.length)]
    const r = rand()
    if (budget !== undefined && r < 0.05) {
      // A paste many times the budget, somewhere in the text.
      const pos = Math.floor(rand() * (Array.from(p.text).length + 1))
      p.edit(textType.normalize([pos, randomText(rand, 300) + '😀'.repeat(20)]))
    } else if (r < 0.35) p.edit(randomOp(rand, p.text))
    else if (r < 0.6 && p.up.length > 0 && p.connected) deliverUp(server, peers, p)
    else if (r < 0.9 && p.down.length > 0) p.receive(p.down.shift()!)
    else if (churn && r < 0.95 && p.connected) {
      // Drop the link: messages in transit either reached the server or not.
      if (rand() < 0.5 && p.up.length > 0) deliverUp(server, peers, p)
      p.connected = false
      p.up = []
      p.down = []
    } else if (!p.connected) reconnect(server, p)
  }
  // Drain: everyone reconnects and all messages flow.
  for (const p of peers) if (!p.connected) reconnect(server, p)
  for (let guard = 0; guard < 100000; guard++) {
    const busy = peers.find((p) => p.up.length > 0 || p.down.length > 0)
    if (!busy) break
    if (busy.up.length > 0) deliverUp(server, peers, busy)
    else busy.receive(busy.down.shift()!)
  }
  for (const p of peers) {
    if (budget !== undefined) expect(p.heaviest, `seed ${seed}`).toBeLessThanOrEqual(budget)
    expect(p.client.state.name, `seed ${seed}`).toBe('Synchronized')
    expect(p.client.rev, `seed ${seed}`).toBe(server.rev)
    expect(p.text, `seed ${seed}`).toBe(server.text)
  }
}

describe('OTClient states', () => {
  it('sends an edit over the budget as pieces, one in flight at a time, counted once', () => {
    const sent: ToServer[] = []
    const c = new OTClient('me', 0, (rev, op, id) => sent.push({ rev, op, id }) > 0, 100)
    const paste = 'abcdefghij'.repeat(30)
    c.applyClient([paste])
    expect(sent).toHaveLength(1)
    expect(c.unsaved).toBe(1)
    c.applyClient([paste.length, '!']) // typed after the paste: rides behind its pieces
    let text = ''
    for (let rev = 1; c.state.name !== 'Synchronized'; rev++) {
      expect(sent).toHaveLength(rev)
      expect(opCost(sent[rev - 1].op)).toBeLessThanOrEqual(100)
      expect(sent[rev - 1].rev).toBe(rev - 1)
      text = textType.apply(text, sent[rev - 1].op)
      expect(c.unsaved).toBeGreaterThan(0)
      c.serverAck(sent[rev - 1].id, rev)
    }
    expect(sent.length).toBeGreaterThan(3)
    expect(text).toBe(paste + '!')
    expect(c.unsaved).toBe(0)
  })

  it('moves Synchronized -> AwaitingConfirm -> AwaitingWithBuffer -> back', () => {
    const sent: ToServer[] = []
    const c = new OTClient('me', 5, (rev, op, id) => sent.push({ rev, op, id }) > 0)
    expect(c.state.name).toBe('Synchronized')
    c.applyClient([3, 'a'])
    expect(c.state.name).toBe('AwaitingConfirm')
    expect(sent).toEqual([{ rev: 5, op: [3, 'a'], id: 'me:1' }])
    c.applyClient([4, 'b'])
    c.applyClient([5, 'c'])
    expect(c.state.name).toBe('AwaitingWithBuffer')
    expect(c.unsaved).toBe(3)
    expect(sent).toHaveLength(1)
    expect(c.serverAck('me:1', 6)).toBe(true)
    expect(c.state.name).toBe('AwaitingConfirm')
    expect(sent[1]).toEqual({ rev: 6, op: [4, 'bc'], id: 'me:2' })
    expect(c.unsaved).toBe(2)
    c.serverAck('me:2', 7)
    expect(c.state.name).toBe('Synchronized')
    expect(c.unsaved).toBe(0)
    expect(c.rev).toBe(7)
  })

  it('transforms a server op against the in-flight op and the buffer', () => {
    const c = new OTClient('me', 0, () => true)
    // Local text "abc" -> "Xabc" (inflight) -> "XabcY" (buffer).
    c.applyClient(['X'])
    c.applyClient([4, 'Y'])
    // Another user inserted "Z" after "a" on the server's "abc".
    const local = c.applyServer(1, [1, 'Z'], 'other:1')
    expect(textType.apply('XabcY', local!)).toBe('XaZbcY')
    expect(c.rev).toBe(1)
  })

  it('treats its own in-flight id arriving as an op as the ack (catch-up)', () => {
    const sent: string[] = []
    const c = new OTClient('me', 3, (_r, _op, id) => sent.push(id) > 0)
    c.applyClient(['a'])
    c.applyClient([1, 'b'])
    expect(c.applyServer(4, ['a'], 'me:1')).toBeNull()
    expect(c.rev).toBe(4)
    expect(c.state.name).toBe('AwaitingConfirm')
    expect(sent).toEqual(['me:1', 'me:2'])
  })

  it('ignores duplicate server ops and stale acks, and refuses gaps', () => {
    const c = new OTClient('me', 2, () => true)
    expect(c.applyServer(2, ['x'], 'o:1')).toBeNull()
    expect(c.serverAck('me:9', 3)).toBe(false)
    expect(() => c.applyServer(4, ['x'], 'o:2')).toThrow(RevisionGapError)
    expect(c.rev).toBe(2)
  })

  it('resends the in-flight op once, under the same id, based on the caught-up rev', () => {
    const server = new Authority('abc')
    const sent: ToServer[] = []
    const c = new OTClient('me', 0, (rev, op, id) => sent.push({ rev, op, id }) > 0)
    let text = 'abc'
    text = textType.apply(text, [3, '!'])
    c.applyClient([3, '!'])
    // Link drops before the op reaches the server; someone else edits.
    server.receive(0, ['>'], 'other:1')
    c.disconnected()
    for (const op of server.since(c.rev)) {
      const local = c.applyServer(op.rev, op.op, op.id)
      if (local) text = textType.apply(text, local)
    }
    c.resend()
    expect(sent).toHaveLength(2)
    expect(sent[1]).toEqual({ rev: 1, op: [4, '!'], id: 'me:1' })
    const { rev } = server.receive(sent[1].rev, sent[1].op, sent[1].id)
    c.serverAck('me:1', rev)
    expect(text).toBe('>abc!')
    expect(server.text).toBe(text)
    // The server applied the op once even if the resend is delivered again.
    expect(server.receive(sent[1].rev, sent[1].op, sent[1].id).committed).toBeNull()
    expect(server.text).toBe('>abc!')
  })

  it('acks by catch-up when the op reached the server but the ack was lost', () => {
    const server = new Authority('')
    const sent: ToServer[] = []
    const c = new OTClient('me', 0, (rev, op, id) => sent.push({ rev, op, id }) > 0)
    c.applyClient(['hi'])
    server.receive(sent[0].rev, sent[0].op, sent[0].id) // ack lost with the link
    c.disconnected()
    c.applyClient([2, '!']) // typed offline
    for (const op of server.since(c.rev)) expect(c.applyServer(op.rev, op.op, op.id)).toBeNull()
    c.resend()
    // The buffer went out as the next op; the first was not sent again.
    expect(sent.map((m) => m.id)).toEqual(['me:1', 'me:2'])
    server.receive(sent[1].rev, sent[1].op, sent[1].id)
    expect(server.text).toBe('hi!')
  })
})

describe('OTClient convergence with large edits split', () => {
  it('converges when pastes go out in pieces among concurrent edits and reconnects', () => {
    for (let seed = 1; seed <= 20; seed++) simulate(seed, 3, 300, seed % 2 === 0, 120)
  })
})

describe('OTClient convergence against a simulated server', () => {
  it('converges with random delivery order (2-4 peers, 1500 runs)', () => {
    for (let seed = 1; seed <= 1500; seed++) simulate(seed, 2 + (seed % 3), 60, false)
  })

  it('converges with random disconnects, lost messages and reconnect catch-up (1500 runs)', () => {
    for (let seed = 10001; seed <= 11500; seed++) simulate(seed, 2 + (seed % 3), 80, true)
  })
})
