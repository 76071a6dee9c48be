import { afterEach, describe, expect, it } from 'vitest'
import { lineColumnToCodePoint } from './remoteCursors'
import { Hub, open, stopAll } from './testHub'

afterEach(stopAll)

describe('remote cursors in a DocumentSession', () => {
  it('transforms a remote cursor through later ops', () => {
    const hub = new Hub()
    const a = open(hub, 'a')
    hub.pump()
    hub.sockets[0].deliver({ type: 'cursor', user_id: '2', username: 'bob', color: '#fff', conn_id: 'k', rev: 0, anchor: 2, head: 4 })
    a.applyLocal(['ab'])
    expect(a.getSnapshot().cursors).toMatchObject([{ username: 'bob', anchor: 4, head: 6 }])
    // A cursor from an older revision is carried over the ops since.
    hub.pump()
    hub.sockets[0].deliver({ type: 'cursor', user_id: '2', conn_id: 'k', rev: 0, anchor: 1, head: 1 })
    expect(a.getSnapshot().cursors).toMatchObject([{ anchor: 3, head: 3 }])
  })
})

describe('lineColumnToCodePoint', () => {
  it('maps seed-dialect carets to code points', () => {
    const text = 'ab\n😀cd\nx'
    expect(lineColumnToCodePoint(text, 1, 1)).toBe(0)
    expect(lineColumnToCodePoint(text, 2, 3)).toBe(4) // after the emoji (2 UTF-16 columns)
    expect(lineColumnToCodePoint(text, 2, 99)).toBe(6) // clamped to the line end
    expect(lineColumnToCodePoint(text, 9, 1)).toBe(8)
  })
})
