// Browser end-to-end tests of history: the real gdoc binary (GDOC_BIN) on
// 127.0.0.1 and Debian's Chromium driven by playwright-core. Two users edit a
// document; one opens History, moves the slider, sees the diff and restores
// an older revision, which reaches the other's tab; blame names both; the
// document downloads; a local file opens as a new document.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
const foreignRequests = []

/** startServer runs the binary on a random port and resolves with its base URL. */
function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'gdoc-e2e-'))
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

async function newContext(options = {}) {
  const context = await browser.newContext({ baseURL, ...options })
  context.on('request', (req) => {
    const url = new URL(req.url())
    const local = url.protocol === 'data:' || url.protocol === 'blob:' || url.host === new URL(baseURL).host
    if (!local) foreignRequests.push(req.url())
  })
  context.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== new URL(baseURL).host) foreignRequests.push(ws.url())
  })
  return context
}

async function register(page, username) {
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel('Password').fill('securepass123')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.waitForURL((u) => u.pathname === '/')
}

/** editorText reads what Monaco shows. */
const editorText = (page) => page.evaluate(() => window.gdocEditor.getValue())

async function waitSynced(page) {
  await page.getByTestId('unsaved').filter({ hasText: 'All changes saved' }).waitFor({ timeout: 15_000 })
}

/** eventually retries fn until it stops throwing (bounded). */
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


async function typeLine(page, text) {
  await focusEditorEnd(page)
  await page.keyboard.type(text, { delay: 10 })
  await waitSynced(page)
}

const pageErrors = []

describe('History in the browser', () => {
  let alice
  let bob
  let docId

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`)
    baseURL = await startServer()
    browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
    alice = await (await newContext({ acceptDownloads: true })).newPage()
    bob = await (await newContext()).newPage()
    for (const page of [alice, bob]) page.on('pageerror', (err) => pageErrors.push(String(err)))
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
    assert.deepEqual(foreignRequests, [], 'the client fetched nothing from other hosts')
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages')
  })

  it('two users write lines; History shows the revisions, the slider moves, the diff shows the old text', async () => {
    await register(alice, `alice${Date.now() % 100000}`)
    await register(bob, `bob${Date.now() % 100000}`)
    await alice.getByLabel('Title').fill('notes.py')
    await alice.getByRole('button', { name: 'Create document' }).click()
    await alice.waitForURL(/\/d\/[^/]+$/)
    docId = decodeURIComponent(new URL(alice.url()).pathname.split('/')[2])
    await bob.goto(`/d/${encodeURIComponent(docId)}`)
    for (const page of [alice, bob]) {
      await page.locator('.monaco-editor').waitFor()
      await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    }
    await typeLine(alice, 'alice_line = 1\n')
    await eventually(async () => assert.match(await editorText(bob), /alice_line/))
    await typeLine(bob, 'bob_line = 2\n')
    await eventually(async () => assert.match(await editorText(alice), /bob_line/))

    await alice.getByRole('button', { name: 'History' }).click()
    const panel = alice.getByTestId('history-panel')
    await panel.waitFor()
    const slider = panel.getByRole('slider', { name: 'Revision' })
    const head = Number(await slider.getAttribute('max'))
    assert.ok(head >= 2, `head ${head}`)
    await eventually(async () => assert.equal(Number(await slider.inputValue()), head))
    // Both users are in the sessions list.
    const sessions = panel.getByRole('list', { name: 'Editing sessions' })
    await eventually(async () => {
      const text = await sessions.innerText()
      assert.match(text, /alice/)
      assert.match(text, /bob/)
    })
    // Arrow keys move the slider back through revisions: step back until
    // bob's line is gone from the old side of the diff.
    await slider.focus()
    let rev = head
    for (let i = 0; i < 200; i++) {
      const content = await alice.evaluate(async ([id, r]) => (await (await fetch(`/api/documents/${encodeURIComponent(id)}/revisions/${r}`)).json()).content, [docId, rev])
      if (!content.includes('b') && content.includes('alice_line = 1\n')) break // before bob's first keystroke
      await alice.keyboard.press('ArrowLeft')
      rev--
      await eventually(async () => assert.equal(await panel.getByTestId('history-rev').innerText(), String(rev)))
    }
    await eventually(async () => assert.match(await panel.getByTestId('history-caption').innerText(), new RegExp(`Revision ${rev} by alice`)))
    // The diff editor shows the old revision on the left, the current text on the right.
    await eventually(async () => {
      const [original, modified] = await alice.evaluate(() => {
        const d = window.gdocDiffEditor
        return d ? [d.getOriginalEditor().getValue(), d.getModifiedEditor().getValue()] : ['', '']
      })
      assert.match(original, /alice_line/)
      assert.doesNotMatch(original, /bob_line/)
      assert.match(modified, /bob_line/)
    })
    await alice.screenshot({ path: join(artifacts, 'history-diff.png') })

    // Restore: bob's tab receives it live.
    await panel.getByRole('button', { name: 'Restore this version' }).click()
    await panel.getByText(`Restored revision ${rev}.`).waitFor()
    await eventually(async () => {
      const b = await editorText(bob)
      assert.doesNotMatch(b, /bob_line/)
      assert.match(b, /alice_line/)
    })
    assert.equal(await editorText(alice), await editorText(bob))
    // The restore is in the list, as a restore.
    await eventually(async () => assert.match(await sessions.innerText(), new RegExp(`Restored revision ${rev}`)))

    // Undo the restore by restoring the revision before it.
    const before = Number(await slider.getAttribute('max')) - 1
    await slider.focus()
    await alice.keyboard.press('ArrowLeft')
    await eventually(async () => assert.equal(await panel.getByTestId('history-rev').innerText(), String(before)))
    await panel.getByRole('button', { name: 'Restore this version' }).click()
    await eventually(async () => assert.match(await editorText(bob), /bob_line/))
    await panel.getByRole('button', { name: 'Close history' }).click()
  })

  it('blame colours each line by its author and names them on hover', async () => {
    await alice.getByRole('button', { name: 'Blame' }).click()
    const legend = alice.getByTestId('blame-legend')
    await eventually(async () => {
      const t = await legend.innerText()
      assert.match(t, /alice/)
      assert.match(t, /bob/)
    })
    // One coloured glyph per line, two colours for two authors.
    await eventually(async () => {
      const classes = await alice.locator('.blame-glyph').evaluateAll((els) => els.map((e) => e.className))
      const colours = new Set(classes.flatMap((c) => c.split(/\s+/).filter((x) => x.startsWith('blame-c-'))))
      assert.ok(colours.size >= 2, `colours ${[...colours]}`)
    })
    // Hover over the glyph of bob's line: his name and the time.
    const bobLine = await alice.evaluate(() => window.gdocEditor.getModel().getLinesContent().findIndex((l) => l.includes('bob_line')) + 1)
    assert.ok(bobLine > 0)
    const spot = await alice.evaluate((line) => {
      const ed = window.gdocEditor
      const top = ed.getTopForLineNumber(line) - ed.getScrollTop()
      for (const el of document.querySelectorAll('.blame-glyph')) {
        const r = el.getBoundingClientRect()
        const editorTop = ed.getDomNode().getBoundingClientRect().top
        if (Math.abs(r.top - editorTop - top) < 2) return { x: r.left + r.width / 2, y: r.top + r.height / 2 }
      }
      return null
    }, bobLine)
    assert.ok(spot, 'no blame glyph on bob\'s line')
    await alice.mouse.move(spot.x, spot.y)
    await eventually(async () => {
      await alice.mouse.move(spot.x, spot.y + 1)
      assert.match((await alice.locator('.monaco-hover').allTextContents()).join(' | '), /bob\d+ · /)
    })
    await alice.screenshot({ path: join(artifacts, 'blame.png') })
    await alice.getByRole('button', { name: 'Blame' }).click()
    assert.equal(await alice.locator('.blame-glyph').count(), 0)
  })

  it('downloads the document with a file name from its title', async () => {
    const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByRole('button', { name: 'Download', exact: true }).click()])
    assert.equal(download.suggestedFilename(), 'notes.py')
    const path = join(artifacts, 'downloaded-notes.py')
    await download.saveAs(path)
    assert.equal(readFileSync(path, 'utf8'), await editorText(alice))
  })

  it('opens a local file as a new document, by the button and by dropping it', async () => {
    await bob.goto('/')
    const file = join(mkdtempSync(join(tmpdir(), 'gdoc-open-')), 'hello.go')
    writeFileSync(file, 'package main\r\n\r\nfunc main() {}\r\n')
    await bob.getByTestId('open-file-input').setInputFiles(file)
    await bob.waitForURL(/\/d\/[^/]+$/)
    await bob.locator('.monaco-editor').waitFor()
    await eventually(async () => assert.equal(await editorText(bob), 'package main\n\nfunc main() {}\n'))
    assert.equal(await bob.evaluate(() => window.gdocEditor.getModel().getLanguageId()), 'go')
    await bob.screenshot({ path: join(artifacts, 'opened-file.png') })

    // Dropping a file onto the dashboard does the same.
    await bob.goto('/')
    await bob.getByRole('button', { name: 'Open file…' }).waitFor()
    const drop = await bob.evaluateHandle(() => {
      const dt = new DataTransfer()
      dt.items.add(new File(['# dropped\n'], 'dropped.md', { type: 'text/markdown' }))
      return dt
    })
    await bob.locator('.drop-zone').dispatchEvent('dragover', { dataTransfer: drop })
    await bob.locator('.drop-zone').dispatchEvent('drop', { dataTransfer: drop })
    await bob.waitForURL(/\/d\/[^/]+$/)
    await bob.locator('.monaco-editor').waitFor()
    await eventually(async () => assert.equal(await editorText(bob), '# dropped\n'))
    assert.equal(await bob.evaluate(() => window.gdocEditor.getModel().getLanguageId()), 'markdown')
  })
})
