// A big paste never wedges the editor: 1.2 MB goes out as several ops that
// each fit the server's limits and is kept; a paste that would take the
// document past 4 MiB is refused in the editor, nothing half-applied, and
// the tab stays connected.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { eventually, launchBrowser, register, startServer, token } from './harness.mjs'

const MAX_MESSAGE_BYTES = 1_048_576
const REFUSED = 'This paste would make the document larger than 4 MiB; nothing was pasted.'

describe('a big paste', () => {
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

  it('is kept when it fits and refused whole when it would pass the document cap', async () => {
    const { baseURL } = server
    const ctx = await browser.newContext({ baseURL })
    const page = await ctx.newPage()
    await register(page, `paster${Date.now() % 100000}`)
    await page.getByLabel('Title').fill('big.txt')
    await page.getByRole('button', { name: 'Create document' }).click()
    await page.waitForURL(/\/d\/[^/]+$/)
    const docId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2])

    // Every socket the tab opens and every op frame it sends (their sizes).
    let sockets = 0
    const opFrames = []
    page.on('websocket', (ws) => {
      if (!new URL(ws.url()).pathname.startsWith('/ws/')) return
      sockets++
      ws.on('framesent', (f) => {
        const data = typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')
        if (data.startsWith('{"type":"op"')) opFrames.push(Buffer.byteLength(data))
      })
    })
    await page.reload()
    await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    assert.equal(sockets, 1)
    const auth = { Authorization: `Bearer ${await token(page)}` }
    const serverDoc = async () => {
      const res = await fetch(`${baseURL}/api/documents/${encodeURIComponent(docId)}`, { headers: auth })
      assert.equal(res.status, 200)
      return res.json()
    }
    const editorText = () => page.evaluate(() => window.gdocEditor.getValue())
    const saved = () => page.getByTestId('unsaved').filter({ hasText: 'All changes saved' }).waitFor({ timeout: 60_000 })

    // 1.2 MB with multi-byte text and surrogate pairs, pasted at the caret.
    const paste = (bytes) =>
      page.evaluate((n) => {
        const line = 'const café = "naïve 😀 中文" // a line of pasted code\n'
        const parts = []
        for (let i = 0, size = 0; size < n; i++) {
          const part = `${i} ${line}`
          parts.push(part)
          size += new TextEncoder().encode(part).length
        }
        const text = parts.join('')
        const ed = window.gdocEditor
        ed.focus()
        ed.trigger('keyboard', 'paste', { text })
        return text
      }, bytes)
    const big = await paste(1_200_000)
    assert.ok(Buffer.byteLength(big) >= 1_200_000)
    await saved()
    const kept = await editorText()
    assert.equal(kept, big)
    const doc = await serverDoc()
    assert.equal(doc.content, kept, "the server's text is the editor's")
    assert.ok(opFrames.length > 1, `sent as several ops (${opFrames.length})`)
    for (const n of opFrames) assert.ok(n <= MAX_MESSAGE_BYTES, `op frame of ${n} bytes`)
    assert.equal(sockets, 1, 'no reconnect')
    await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    assert.equal(await page.getByRole('alert').filter({ hasText: REFUSED }).count(), 0)

    // 3.2 MB more would pass 4 MiB: refused, the editor shows what it showed.
    const framesBefore = opFrames.length
    await paste(3_200_000)
    await page.getByRole('alert').filter({ hasText: REFUSED }).waitFor()
    await eventually(async () => assert.equal(await editorText(), kept))
    const snap = await page.evaluate(() => {
      const s = window.gdocSession.getSnapshot()
      return { unsaved: s.unsaved, rev: s.rev, status: s.status, textSame: window.gdocSession.text === window.gdocEditor.getValue() }
    })
    assert.deepEqual(snap, { unsaved: 0, rev: doc.rev, status: 'connected', textSame: true })
    assert.equal(opFrames.length, framesBefore, 'nothing of the refused paste was sent')
    const after = await serverDoc()
    assert.equal(after.rev, doc.rev)
    assert.equal(after.content, kept)

    // Still connected and editing: a keystroke is saved, and the message goes.
    await page.evaluate(() => window.gdocEditor.setPosition({ lineNumber: 1, column: 1 }))
    await page.keyboard.type('!')
    await saved()
    await eventually(async () => assert.equal((await serverDoc()).content, '!' + kept))
    assert.equal(await editorText(), '!' + kept)
    assert.equal(await page.getByRole('alert').filter({ hasText: REFUSED }).count(), 0)
    assert.equal(sockets, 1, 'no reconnect')
    await ctx.close()
  })
})
