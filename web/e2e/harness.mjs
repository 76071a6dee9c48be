// Shared pieces of the browser tests: the gdoc binary on 127.0.0.1 with a
// fresh data directory, Debian's Chromium through playwright-core, and small
// page helpers. Every e2e file takes its setup from here.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { after, before } from 'node:test'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = resolve(here, '..', '..')
/** artifacts is where the tests leave screenshots and downloads. */
export const artifacts = join(repoRoot, 'test-artifacts')
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

/** makeArtifacts creates the artifacts folder; it returns its path. */
export function makeArtifacts() {
  mkdirSync(artifacts, { recursive: true })
  return artifacts
}

/**
 * startServer runs the binary on a random port; it resolves with { baseURL, stop }.
 * name (optional) goes into the data directory's name: gdoc-e2e-<name>-XXXXXX.
 */
export function startServer({ name } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), name ? `gdoc-e2e-${name}-` : 'gdoc-e2e-'))
  const server = spawn(bin, [], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      SECRET_KEY: randomBytes(36).toString('base64').slice(0, 48),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r))
      process.kill(server.pid, 'SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
      if (server.exitCode === null) process.kill(server.pid, 'SIGKILL')
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return new Promise((resolveStarted, reject) => {
    let log = ''
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${log}`)), 20_000)
    const onData = (chunk) => {
      log += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolveStarted({ baseURL: m[1], stop })
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

export async function launchBrowser() {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`)
  return chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
}

/**
 * useServerAndBrowser, called in a describe, adds the hooks that start a
 * server (options as for startServer) and Chromium before its tests and close
 * both after them. The object it returns has server, baseURL and browser once
 * the before hook has run; hooks the caller adds later run after these.
 */
export function useServerAndBrowser(options) {
  const env = { server: undefined, baseURL: undefined, browser: undefined }
  before(async () => {
    env.server = await startServer(options)
    env.baseURL = env.server.baseURL
    env.browser = await launchBrowser()
  })
  after(async () => {
    await env.browser?.close()
    await env.server?.stop()
  })
  return env
}

export async function register(page, username) {
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel('Password').fill('securepass123')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.waitForURL((u) => u.pathname === '/')
}

/**
 * newContext opens a browser context on baseURL (with options) that records
 * in foreign every request and WebSocket going anywhere but that server
 * (data: and blob: URLs are local).
 */
export async function newContext(browser, baseURL, foreign, options = {}) {
  const context = await browser.newContext({ baseURL, ...options })
  const host = new URL(baseURL).host
  context.on('request', (req) => {
    const url = new URL(req.url())
    const local = url.protocol === 'data:' || url.protocol === 'blob:' || url.host === host
    if (!local) foreign.push(req.url())
  })
  context.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== host) foreign.push(ws.url())
  })
  return context
}

/** createDocument creates a document titled title from the dashboard; it resolves with its id once the editor page is open. */
export async function createDocument(page, title) {
  await page.getByLabel('Title').fill(title)
  await page.getByRole('button', { name: 'Create document' }).click()
  await page.waitForURL(/\/d\/[^/]+$/)
  return decodeURIComponent(new URL(page.url()).pathname.split('/')[2])
}

/** editorText reads what Monaco shows. */
export const editorText = (page) => page.evaluate(() => window.gdocEditor.getValue())

/** waitSynced waits (up to timeout ms) until the page says every edit reached the server. */
export async function waitSynced(page, timeout = 15_000) {
  await page.getByTestId('unsaved').filter({ hasText: 'All changes saved' }).waitFor({ timeout })
}

/** focusEditorEnd clicks into the editor and puts the caret at the end. */
export async function focusEditorEnd(page) {
  await page.locator('.monaco-editor .view-lines').click()
  await page.keyboard.press('Control+End')
}

/** serverContent reads a document's content over the REST API, as the holder of bearer if given (a private document needs it). */
export async function serverContent(baseURL, docId, bearer) {
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {}
  const res = await fetch(`${baseURL}/api/documents/${encodeURIComponent(docId)}`, { headers })
  assert.equal(res.status, 200)
  return (await res.json()).content
}

/** token reads the signed-in user's bearer token from the page. */
export const token = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('gdoc.auth')).token)

/** eventually retries fn until it stops throwing (bounded). */
export async function eventually(fn, timeoutMs = 10_000) {
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
