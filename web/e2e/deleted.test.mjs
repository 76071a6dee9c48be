// A document deleted while others have it open: their tabs say it was
// deleted and stop (close code 4404), and no reconnect brings it back.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { launchBrowser, register, startServer, token } from './harness.mjs'

describe('a document deleted while open', () => {
  let server
  let browser

  before(async () => {
    server = await startServer()
    browser = await launchBrowser()
  })

  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('tells the other tab it was deleted, stops reconnecting, and stays deleted', async () => {
    const { baseURL } = server
    const aliceCtx = await browser.newContext({ baseURL })
    const bobCtx = await browser.newContext({ baseURL })
    const alice = await aliceCtx.newPage()
    const bob = await bobCtx.newPage()
    const n = Date.now() % 100000
    await register(alice, `alice${n}`)
    await register(bob, `bob${n}`)

    await alice.getByLabel('Title').fill('doomed.txt')
    await alice.getByRole('button', { name: 'Create document' }).click()
    await alice.waitForURL(/\/d\/[^/]+$/)
    const docId = decodeURIComponent(new URL(alice.url()).pathname.split('/')[2])
    const docPath = `/d/${encodeURIComponent(docId)}`

    let bobSockets = 0
    bob.on('websocket', (ws) => {
      if (new URL(ws.url()).pathname.startsWith('/ws/')) bobSockets++
    })
    await bob.goto(docPath)
    await bob.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await alice.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await bob.getByTestId('user-count').filter({ hasText: '2 active' }).waitFor()
    const socketsBefore = bobSockets

    const aliceToken = await token(alice)
    const del = await fetch(`${baseURL}/api/documents/${encodeURIComponent(docId)}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${aliceToken}` },
    })
    assert.equal(del.status, 204)

    // Both tabs (the owner's too) say so in words and offer no reconnect.
    for (const page of [bob, alice]) {
      await page.getByRole('alert').filter({ hasText: 'This document was deleted.' }).waitFor()
      await page.getByTestId('sync-status').filter({ hasText: 'Disconnected' }).waitFor()
      assert.equal(await page.getByRole('button', { name: 'Reconnect now' }).count(), 0)
      assert.equal(await page.evaluate(() => window.gdocSession.getSnapshot().refusal), 4404)
    }

    // The network coming back does not reopen the socket: nothing is open or scheduled.
    await bobCtx.setOffline(true)
    await bobCtx.setOffline(false)
    const link = await bob.evaluate(() => {
      const conn = window.gdocSession.conn
      return { socket: conn.socket !== null, retry: conn.retryTimer !== null, status: conn.status }
    })
    assert.deepEqual(link, { socket: false, retry: false, status: 'offline' })
    assert.equal(bobSockets, socketsBefore)

    // And the document stays deleted.
    for (const headers of [{}, { Authorization: `Bearer ${aliceToken}` }]) {
      const res = await fetch(`${baseURL}/api/documents/${encodeURIComponent(docId)}`, { headers })
      assert.equal(res.status, 404)
    }
    const list = await (await fetch(`${baseURL}/api/documents`, { headers: { Authorization: `Bearer ${aliceToken}` } })).json()
    assert.ok(!list.some((d) => d.id === docId), 'the deleted document is not listed')

    await aliceCtx.close()
    await bobCtx.close()
  })
})
