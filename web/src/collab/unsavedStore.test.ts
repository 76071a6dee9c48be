import { afterEach, describe, expect, it } from 'vitest'
import { Hub, MemoryStorage, open, stopAll } from './testHub'

afterEach(stopAll)

describe('unsaved edits across a reload', () => {
  it('a closed tab leaves its unsaved edits for the next one, which sends them exactly once', () => {
    const hub = new Hub()
    const storage = new MemoryStorage()
    const mk = (clientId: string) => open(hub, clientId, { userId: '1', storage })
    const first = mk('tab1')
    hub.pump()
    first.applyLocal([5, ' one'])
    hub.pump() // acked: nothing left to keep
    first.applyLocal([9, ' two']) // in flight, reaches the server, ack lost
    hub['handle'](hub.sockets[0], hub.sockets[0].up.shift()!)
    hub.sockets[0].cut()
    first.applyLocal([13, ' three']) // typed offline
    first.stop() // the tab closes
    expect(storage.length).toBe(1)

    const second = mk('tab2')
    expect(second.text).toBe('hello one two three')
    expect(second.getSnapshot().unsaved).toBe(2)
    expect(storage.length).toBe(0) // claimed
    hub.pump()
    expect(hub.sockets.at(-1)!.since).toBe(1)
    expect(hub.doc.text).toBe('hello one two three')
    expect(hub.sentIds).toEqual(['tab1:1', 'tab1:2', 'tab1:3'])
    expect(second.getSnapshot().unsaved).toBe(0)
    second.stop()
    expect(storage.length).toBe(0)
  })
})

