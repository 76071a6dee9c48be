// Browser end-to-end tests: the real gdoc binary (GDOC_BIN) on 127.0.0.1 and
// Debian's Chromium driven by playwright-core. Two users in two browser
// contexts edit one document, chat, undo, reload, go offline and back.

import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { artifacts, createDocument, editorText, eventually, focusEditorEnd, makeArtifacts, newContext, register, serverContent, useServerAndBrowser, waitSynced } from './harness.mjs'

const foreignRequests = []

describe('G-Doc in the browser', () => {
  const env = useServerAndBrowser()
  let alice
  let bob
  let aliceCtx
  let bobCtx
  let docId

  before(async () => {
    makeArtifacts()
    aliceCtx = await newContext(env.browser, env.baseURL, foreignRequests)
    bobCtx = await newContext(env.browser, env.baseURL, foreignRequests)
    alice = await aliceCtx.newPage()
    bob = await bobCtx.newPage()
  })

  it('registers two users; one creates a document, the other joins it by id', async () => {
    await register(alice, `alice${Date.now() % 100000}`)
    await register(bob, `bob${Date.now() % 100000}`)

    await alice.screenshot({ path: join(artifacts, 'dashboard.png') })
    docId = await createDocument(alice, 'shared.js')

    await bob.getByLabel('Document ID').fill(docId)
    await bob.getByRole('button', { name: 'Join document' }).click()
    await bob.waitForURL((u) => u.pathname === `/d/${encodeURIComponent(docId)}`)

    for (const page of [alice, bob]) {
      await page.locator('.monaco-editor').waitFor()
      await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
      await page.getByTestId('user-count').filter({ hasText: '2 active' }).waitFor()
    }
    // Highlighting follows the title's extension.
    assert.equal(await alice.evaluate(() => window.gdocEditor.getModel().getLanguageId()), 'javascript')
  })

  it('merges concurrent typing: both editors equal the server content', async () => {
    await focusEditorEnd(alice)
    await focusEditorEnd(bob)
    await Promise.all([
      alice.keyboard.type('const fromAlice = "😀 αβγ";\n', { delay: 15 }),
      bob.keyboard.type('let fromBob = 42;\n', { delay: 15 }),
    ])
    await waitSynced(alice)
    await waitSynced(bob)
    await eventually(async () => {
      const [a, b] = await Promise.all([editorText(alice), editorText(bob)])
      assert.equal(a, b)
      assert.equal(a, await serverContent(env.baseURL, docId))
      assert.match(a, /const fromAlice = "😀 αβγ";/)
      assert.match(a, /let fromBob = 42;/)
    })
  })

  it('sends a multi-cursor edit and a CRLF paste as LF text', async () => {
    // Two carets, one keystroke: both places change, in one op.
    await bob.evaluate(() => {
      const ed = window.gdocEditor
      const m = ed.getModel()
      const last = m.getLineCount()
      ed.setSelections([
        { selectionStartLineNumber: 1, selectionStartColumn: 1, positionLineNumber: 1, positionColumn: 1 },
        { selectionStartLineNumber: last, selectionStartColumn: 1, positionLineNumber: last, positionColumn: 1 },
      ])
      ed.focus()
    })
    await bob.keyboard.type('#')
    await bob.keyboard.press('Escape') // back to one caret, so the paste is not split across carets
    await bob.evaluate(() => window.gdocEditor.trigger('keyboard', 'paste', { text: 'p1\r\np2\r\n' }))
    await waitSynced(bob)
    await eventually(async () => {
      const a = await editorText(alice)
      assert.equal(a, await editorText(bob))
      assert.equal(a, await serverContent(env.baseURL, docId))
      assert.ok(!a.includes('\r'), 'no CR reaches the document')
      assert.match(a, /p1\np2\n/)
      assert.ok(a.startsWith('#'), 'first caret typed at the start')
      assert.equal((a.match(/#/g) ?? []).length, 2)
    })
    // Put things back for the next test (by Bob, so Alice's history is untouched).
    // (The two edits may form one undo step or two, depending on timing.)
    for (let i = 0; i < 2 && /#|p1/.test(await editorText(bob)); i++) await bob.keyboard.press('Control+z')
    await waitSynced(bob)
    await eventually(async () => {
      const a = await editorText(alice)
      assert.doesNotMatch(a, /#|p1/)
      assert.match(a, /let fromBob = 42;/)
    })
  })

  it("undo in one window reverts only that user's edit", async () => {
    // Alice's line is one undo step when typed in one run; a very busy machine
    // may split it, so press until it is gone, checking Bob's line every time.
    let presses = 0
    while (/fromAlice/.test(await editorText(alice)) && presses < 6) {
      await alice.keyboard.press('Control+z')
      presses++
      assert.match(await editorText(alice), /let fromBob = 42;/)
    }
    assert.ok(presses >= 1 && presses < 6, `undo took ${presses} presses`)
    await waitSynced(alice)
    await eventually(async () => {
      const b = await editorText(bob)
      assert.doesNotMatch(b, /fromAlice/)
      assert.match(b, /let fromBob = 42;/)
      assert.equal(await editorText(alice), b)
      assert.equal(await serverContent(env.baseURL, docId), b)
    })
    for (let i = 0; i < presses; i++) await alice.keyboard.press('Control+Shift+z')
    await eventually(async () => assert.match(await editorText(bob), /const fromAlice = "😀 αβγ";/))
    await waitSynced(alice)
  })

  it('shows a chat message once on each side, with an unread badge for the receiver', async () => {
    await alice.getByRole('button', { name: 'Open chat' }).click()
    await alice.getByLabel('Chat message').fill('hello bob <b>not bold</b>')
    await alice.getByLabel('Chat message').press('Enter')
    await bob.getByTestId('chat-unread').filter({ hasText: '1' }).waitFor()
    await eventually(async () => {
      const mine = alice.getByTestId('chat-message').filter({ hasText: 'hello bob <b>not bold</b>' })
      assert.equal(await mine.count(), 1)
      assert.equal(await alice.locator('.chat-pending').count(), 0)
    })
    await bob.getByRole('button', { name: /Open chat, 1 unread/ }).click()
    const theirs = bob.getByTestId('chat-message').filter({ hasText: 'hello bob <b>not bold</b>' })
    await theirs.waitFor()
    assert.equal(await theirs.count(), 1)
    assert.equal(await bob.getByTestId('chat-unread').count(), 0)

    // Two cursors: Alice selects a word, Bob's editor shows her labelled caret.
    await alice.locator('.monaco-editor .view-lines').click()
    await alice.keyboard.press('Control+Home')
    await alice.keyboard.press('Shift+End')
    await bob.locator('.rc-label').first().waitFor({ timeout: 10_000 })
    const label = await bob.locator('.rc-label').first().textContent()
    assert.match(label, /^alice/)
    await bob.screenshot({ path: join(artifacts, 'editor-two-cursors-chat.png') })
    await alice.screenshot({ path: join(artifacts, 'editor-alice.png') })
  })

  it("shows a language picked in one window in the other at once", async () => {
    await bob.getByLabel('Language').selectOption('python')
    await eventually(async () => {
      assert.equal(await alice.getByLabel('Language').inputValue(), 'python')
      assert.equal(await alice.evaluate(() => window.gdocEditor.getModel().getLanguageId()), 'python')
    })
    await alice.getByLabel('Language').selectOption('javascript')
    await eventually(async () => assert.equal(await bob.getByLabel('Language').inputValue(), 'javascript'))
  })

  it('keeps the content across a reload', async () => {
    const before = await editorText(bob)
    await bob.reload()
    await bob.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await eventually(async () => assert.equal(await editorText(bob), before))
  })

  it('loses nothing typed while offline', async () => {
    await focusEditorEnd(alice)
    await aliceCtx.setOffline(true)
    await alice.keyboard.type('// typed offline\n', { delay: 10 })
    // The edits wait, visibly, while the link is down.
    await alice.getByTestId('unsaved').filter({ hasText: /[1-9]\d* unsaved edits?/ }).waitFor({ timeout: 5000 })
    assert.doesNotMatch(await editorText(bob), /typed offline/)
    await aliceCtx.setOffline(false)
    await waitSynced(alice)
    await eventually(async () => {
      const b = await editorText(bob)
      assert.match(b, /\/\/ typed offline\n/)
      assert.equal((b.match(/typed offline/g) ?? []).length, 1)
      assert.equal(await editorText(alice), b)
      assert.equal(await serverContent(env.baseURL, docId), b)
    }, 20_000)
  })

  it('keeps edits typed offline in a tab that is closed before it reconnects', async () => {
    await focusEditorEnd(alice)
    await aliceCtx.setOffline(true)
    await alice.keyboard.type('// closed while offline\n', { delay: 10 })
    await alice.getByTestId('unsaved').filter({ hasText: /[1-9]\d* unsaved edits?/ }).waitFor({ timeout: 5000 })
    await alice.waitForTimeout(400) // the outbox is written at most 300 ms after an edit
    await alice.close({ runBeforeUnload: false })
    await aliceCtx.setOffline(false)
    alice = await aliceCtx.newPage()
    await alice.goto(`/d/${encodeURIComponent(docId)}`)
    await alice.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await waitSynced(alice)
    await eventually(async () => {
      const b = await editorText(bob)
      assert.equal((b.match(/closed while offline/g) ?? []).length, 1)
      assert.equal(await editorText(alice), b)
      assert.equal(await serverContent(env.baseURL, docId), b)
    }, 20_000)
  })

  it('renders Swagger UI at /docs without any outside request', async () => {
    const page = await aliceCtx.newPage()
    await page.goto('/docs')
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 15_000 })
    assert.ok((await page.locator('.swagger-ui .opblock').count()) > 3)
    await page.close()
  })

  it('is usable at 375 px, and a signed-out visitor returns to the document after login', async () => {
    const ctx = await newContext(env.browser, env.baseURL, foreignRequests, { viewport: { width: 375, height: 740 } })
    const page = await ctx.newPage()
    await page.goto(`/d/${encodeURIComponent(docId)}`)
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === `/d/${encodeURIComponent(docId)}`)
    await page.getByRole('link', { name: 'Register' }).click()
    await page.getByLabel('Username').fill(`carol${Date.now() % 100000}`)
    await page.getByLabel('Email').fill('carol@example.com')
    await page.getByLabel('Password').fill('securepass123')
    await page.getByRole('button', { name: 'Register' }).click()
    await page.waitForURL((u) => u.pathname === `/d/${encodeURIComponent(docId)}`)
    await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await eventually(async () => assert.equal(await editorText(page), await editorText(alice)))
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at 375 px`)
    await page.getByRole('button', { name: /Open chat/ }).click()
    await page.getByLabel('Chat message').fill('hi from a phone')
    await page.getByRole('button', { name: 'Send' }).click()
    await alice.getByTestId('chat-unread').filter({ hasText: '1' }).waitFor()
    await alice.getByRole('button', { name: /Open chat, 1 unread/ }).click()
    await alice.getByTestId('chat-message').filter({ hasText: 'hi from a phone' }).waitFor()
    const box = await page.getByRole('region', { name: 'Chat' }).boundingBox()
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, 'chat panel fits the screen')
    await page.screenshot({ path: join(artifacts, 'editor-375px.png') })
    await ctx.close()
  })

  it('joining an unknown id creates the document; logging out ends the session', async () => {
    const fresh = `e2e-new-${Date.now() % 100000}`
    await bob.goto('/')
    await bob.getByLabel('Document ID').fill('bad id!')
    await bob.getByRole('button', { name: 'Join document' }).click()
    await bob.getByRole('alert').filter({ hasText: 'document id' }).waitFor()
    await bob.getByLabel('Document ID').fill(fresh)
    await bob.getByRole('button', { name: 'Join document' }).click()
    await bob.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await bob.keyboard.type('created by joining')
    await waitSynced(bob)
    await eventually(async () => assert.equal(await serverContent(env.baseURL, fresh), 'created by joining'))

    await bob.goto('/')
    await bob.getByRole('link', { name: new RegExp(fresh) }).waitFor()
    await bob.getByRole('button', { name: 'Log out' }).click()
    await bob.waitForURL((u) => u.pathname === '/login')
    await bob.goto('/')
    await bob.waitForURL((u) => u.pathname === '/login')
  })

  it('made no request outside the server', () => {
    assert.deepEqual(foreignRequests, [])
  })
})
