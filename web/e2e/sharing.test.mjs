// Browser end-to-end test of sharing (issue 9): the real gdoc binary
// (GDOC_BIN) and Debian's Chromium driven by playwright-core. The owner
// shares a private document with a second user as viewer; the viewer finds
// it under "Shared with you", cannot type, sees "View only"; the owner makes
// them editor and they type at once, without a reload; a removal closes the
// open tab with a message.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, launchBrowser, register, repoRoot, startServer, token } from './harness.mjs'

const artifacts = join(repoRoot, 'test-artifacts')

let server
let browser

const editorText = (page) => page.evaluate(() => window.gdocEditor.getValue())

/** ownerContent reads the document as its owner does (it is private). */
async function ownerContent(page, docId) {
  const res = await fetch(`${server.baseURL}/api/documents/${encodeURIComponent(docId)}`, {
    headers: { Authorization: `Bearer ${await token(page)}` },
  })
  assert.equal(res.status, 200)
  return (await res.json()).content
}

async function focusEditorEnd(page) {
  await page.locator('.monaco-editor .view-lines').click()
  await page.keyboard.press('Control+End')
}

describe('Sharing in the browser', () => {
  let alice
  let bob
  let bobName
  let docId

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    server = await startServer()
    browser = await launchBrowser()
    alice = await (await browser.newContext({ baseURL: server.baseURL })).newPage()
    bob = await (await browser.newContext({ baseURL: server.baseURL })).newPage()
  })

  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('the owner makes a document private and shares it with a viewer', async () => {
    const suffix = Date.now() % 100000
    await register(alice, `alice${suffix}`)
    bobName = `bob${suffix}`
    await register(bob, bobName)

    await alice.getByLabel('Title').fill('plan.md')
    await alice.getByRole('button', { name: 'Create document' }).click()
    await alice.waitForURL(/\/d\/[^/]+$/)
    docId = decodeURIComponent(new URL(alice.url()).pathname.split('/')[2])
    await alice.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await alice.getByTestId('my-role').filter({ hasText: 'Owner' }).waitFor()
    await focusEditorEnd(alice)
    await alice.keyboard.type('the plan', { delay: 10 })
    await alice.getByTestId('unsaved').filter({ hasText: 'All changes saved' }).waitFor({ timeout: 15_000 })

    await alice.getByRole('button', { name: 'Share' }).click()
    const dialog = alice.getByRole('dialog')
    await dialog.getByLabel('Visibility').selectOption('private')
    await dialog.getByText('General access changed.').waitFor()
    // An unknown username gets a clear answer.
    await dialog.getByLabel('Username to add').fill('nobody-here')
    await dialog.getByRole('button', { name: 'Add' }).click()
    await dialog.getByRole('alert').filter({ hasText: 'no user named' }).waitFor()
    await dialog.getByLabel('Username to add').fill(bobName)
    await dialog.getByLabel('Role for the new member').selectOption('viewer')
    await dialog.getByRole('button', { name: 'Add' }).click()
    await dialog.getByTestId(`member-${bobName}`).waitFor()
    await alice.screenshot({ path: join(artifacts, 'share-dialog.png') })
  })

  it('the viewer finds it under "Shared with you", sees View only and cannot type', async () => {
    await bob.goto('/')
    const shared = bob.getByRole('region', { name: 'Shared with you' })
    await shared.getByText('plan.md').click()
    await bob.waitForURL((u) => u.pathname === `/d/${encodeURIComponent(docId)}`)
    await bob.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await bob.getByTestId('view-only').waitFor()
    await eventually(async () => assert.equal(await editorText(bob), 'the plan'))

    await focusEditorEnd(bob)
    await bob.keyboard.type(' by bob', { delay: 10 })
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(await editorText(bob), 'the plan')
    assert.equal(await ownerContent(alice, docId), 'the plan')
    await bob.screenshot({ path: join(artifacts, 'view-only.png') })
  })

  it('made editor, the viewer types at once without a reload', async () => {
    const dialog = alice.getByRole('dialog')
    await dialog.getByLabel(`Role of ${bobName}`).selectOption('editor')
    await dialog.getByText(`${bobName} is now an editor.`).waitFor()
    await bob.getByTestId('view-only').waitFor({ state: 'detached', timeout: 5_000 })
    await bob.getByTestId('my-role').filter({ hasText: 'Editor' }).waitFor()

    await focusEditorEnd(bob)
    await bob.keyboard.type(' and bob', { delay: 10 })
    await eventually(async () => assert.equal(await ownerContent(alice, docId), 'the plan and bob'))
    await eventually(async () => assert.equal(await editorText(alice), 'the plan and bob'))
  })

  it('removed, the open tab says so and stops reconnecting', async () => {
    const dialog = alice.getByRole('dialog')
    await dialog.getByRole('button', { name: `Remove ${bobName}` }).click()
    await dialog.getByText(`${bobName} no longer has access.`).waitFor()
    await bob.getByRole('alert').filter({ hasText: /no longer have access/i }).waitFor({ timeout: 5_000 })
    await bob.getByTestId('sync-status').filter({ hasText: 'Disconnected' }).waitFor()
    // It stays so: no reconnect brings the document back.
    await new Promise((r) => setTimeout(r, 1500))
    await bob.getByTestId('sync-status').filter({ hasText: 'Disconnected' }).waitFor({ timeout: 1000 })
    await bob.getByRole('link', { name: 'Back to your documents' }).waitFor({ timeout: 1000 })
  })
})
