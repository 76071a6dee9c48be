// The first load in a real browser: the login and dashboard pages load none
// of the editor's code (Monaco comes with the document page only), assets
// arrive precompressed, and a document fetches the tokenizer of its own
// language only.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createDocument, register, useServerAndBrowser } from './harness.mjs'

// What only the editor page may load: its chunk (Monaco), Monaco's worker
// and icon font, and language tokenizers.
const EDITOR_ONLY = /\/assets\/(EditorPage-|editor\.worker|codicon|python-|javascript-)/

describe('first load', () => {
  const env = useServerAndBrowser({ name: 'firstload' })

  it('loads no editor code on the login and dashboard pages, and the editor with its language on a document', async () => {
    const context = await env.browser.newContext({ baseURL: env.baseURL })
    const page = await context.newPage()
    const responses = []
    page.on('response', (r) => responses.push({ url: r.url(), encoding: r.headers()['content-encoding'] ?? '' }))
    const loaded = (re) => responses.filter((r) => re.test(new URL(r.url).pathname))

    await page.goto('/login')
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await page.waitForLoadState('networkidle')
    assert.deepEqual(loaded(EDITOR_ONLY).map((r) => r.url), [], 'the login page loaded editor code')
    const entry = loaded(/\/assets\/main-[^/]+\.js$/)
    assert.equal(entry.length, 1, `the app's entry chunk was not loaded: ${responses.map((r) => r.url).join(' ')}`)
    assert.equal(entry[0].encoding, 'br', 'the entry chunk is not sent precompressed with brotli')

    await register(page, 'firstload')
    await page.getByRole('button', { name: 'Create document' }).waitFor()
    await page.waitForLoadState('networkidle')
    assert.deepEqual(loaded(EDITOR_ONLY).map((r) => r.url), [], 'the dashboard loaded editor code')

    await createDocument(page, 'script.py')
    await page.locator('.monaco-editor .view-lines').waitFor()
    assert.equal(await page.evaluate(() => window.gdocEditor.getModel().getLanguageId()), 'python')
    await page.waitForLoadState('networkidle')
    const editor = loaded(/\/assets\/EditorPage-[^/]+\.js$/)
    assert.ok(editor.length >= 1, 'the document page did not load the editor chunk')
    assert.equal(editor[0].encoding, 'br', 'the editor chunk is not sent precompressed')
    assert.ok(loaded(/\/assets\/python-[^/]+\.js$/).length >= 1, 'the Python tokenizer was not loaded for a .py document')
    assert.deepEqual(loaded(/\/assets\/(javascript|typescript|rust|java|ruby|go)-[^/]+\.js$/).map((r) => r.url), [],
      'tokenizers of other languages were loaded')
    await context.close()
  })

  it('loads the editor directly when a document link is opened', async () => {
    const context = await env.browser.newContext({ baseURL: env.baseURL })
    const page = await context.newPage()
    await page.goto('/login')
    await page.getByLabel('Username').fill('firstload')
    await page.getByLabel('Password').fill('securepass123')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL((u) => u.pathname === '/')
    const res = await page.request.get('/api/documents')
    const docs = await res.json()
    assert.ok(docs.length >= 1)
    await page.goto(`/d/${encodeURIComponent(docs[0].id)}`)
    await page.locator('.monaco-editor .view-lines').waitFor()
    await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await context.close()
  })
})
