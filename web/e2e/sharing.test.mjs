// Browser end-to-end test of sharing (issue 9): the real gdoc binary
// (GDOC_BIN) and Debian's Chromium driven by playwright-core. The owner
// shares a private document with a second user as viewer; the viewer finds
// it under "Shared with you", cannot type, sees "View only"; the owner makes
// them editor and they type at once, without a reload; a removal closes the
// open tab with a message.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..', '..')
const artifacts = join(repoRoot, 'test-artifacts')
const bin = process.env.GDOC_BIN ?? join(repoRoot, 'bin', 'gdoc')
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
]

let server
let baseURL
let dataDir
let browser

function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'gdoc-e2e-share-'))
  server = spawn(bin, [], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      SECRET_KEY: randomBytes(36).toString('base64').slice(0, 48),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolveURL, reject) => {
    let log = ''
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${log}`)), 20_000)
    const onData = (chunk) => {
      log += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolveURL(m[1])
      }
    }
    server.stdout.on('data', onData)
    server.stderr.on('data', onData)
    server.on('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`cannot start ${bin} (set GDOC_BIN; \`make build\` builds bin/gdoc): ${err.message}`))
    })
    server.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${log}`))
    })
  })
}

async function register(page, username) {
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel('Password').fill('securepass123')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.waitForURL((u) => u.pathname === '/')
}

const editorText = (page) => page.evaluate(() => window.gdocEditor.getValue())

/** ownerContent reads the document as its owner does (it is private). */
async function ownerContent(page, docId) {
  return page.evaluate(async (id) => {
    const token = JSON.parse(localStorage.getItem('gdoc.auth') ?? '{}').token ?? ''
    const res = await fetch(`/api/documents/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${token}` } })
    return (await res.json()).content
  }, docId)
}

async function eventually(fn, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
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
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`)
    baseURL = await startServer()
    browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
    alice = await (await browser.newContext({ baseURL })).newPage()
    bob = await (await browser.newContext({ baseURL })).newPage()
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
