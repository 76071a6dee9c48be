// The first load in a real browser: the login and dashboard pages load none
// of the editor's code (Monaco comes with the document page only), assets
// arrive precompressed, and a document fetches the tokenizer of its own
// language only.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const bin = process.env.GDOC_BIN ?? join(resolve(here, '..', '..'), 'bin', 'gdoc')
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']

// What only the editor page may load: its chunk (Monaco), Monaco's worker
// and icon font, and language tokenizers.
const EDITOR_ONLY = /\/assets\/(EditorPage-|editor\.worker|codicon|python-|javascript-)/

let server
let baseURL
let dataDir
let browser

function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'gdoc-e2e-firstload-'))
  server = spawn(bin, [], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, SECRET_KEY: randomBytes(36).toString('base64').slice(0, 48) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((ok, fail) => {
    let log = ''
    const timer = setTimeout(() => fail(new Error(`server did not start within 20 s:\n${log}`)), 20_000)
    const onData = (chunk) => {
      log += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)
      if (m) { clearTimeout(timer); ok(m[1]) }
    }
    server.stdout.on('data', onData)
    server.stderr.on('data', onData)
    server.on('error', (err) => { clearTimeout(timer); fail(new Error(`cannot start ${bin} (set GDOC_BIN; \`make build\` builds bin/gdoc): ${err.message}`)) })
    server.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited with ${code}:\n${log}`)) })
  })
}

describe('first load', () => {
  before(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`)
    baseURL = await startServer()
    browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
  })

  after(async () => {
    await browser?.close()
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r))
      process.kill(server.pid, 'SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
      if (server.exitCode === null) process.kill(server.pid, 'SIGKILL')
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('loads no editor code on the login and dashboard pages, and the editor with its language on a document', async () => {
    const context = await browser.newContext({ baseURL })
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

    await page.goto('/register')
    await page.getByLabel('Username').fill('firstload')
    await page.getByLabel('Email').fill('firstload@example.com')
    await page.getByLabel('Password').fill('securepass123')
    await page.getByRole('button', { name: 'Register' }).click()
    await page.waitForURL((u) => u.pathname === '/')
    await page.getByRole('button', { name: 'Create document' }).waitFor()
    await page.waitForLoadState('networkidle')
    assert.deepEqual(loaded(EDITOR_ONLY).map((r) => r.url), [], 'the dashboard loaded editor code')

    await page.getByLabel('Title').fill('script.py')
    await page.getByRole('button', { name: 'Create document' }).click()
    await page.waitForURL(/\/d\/[^/]+$/)
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
    const context = await browser.newContext({ baseURL })
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
