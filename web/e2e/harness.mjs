// Shared pieces of the browser tests: the gdoc binary on 127.0.0.1 with a
// fresh data directory, Debian's Chromium through playwright-core, and small
// page helpers. (gdoc.test.mjs still has its own copies.)

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = resolve(here, '..', '..')
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

/** startServer runs the binary on a random port; it resolves with { baseURL, stop }. */
export function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'gdoc-e2e-'))
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

export async function register(page, username) {
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel('Password').fill('securepass123')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.waitForURL((u) => u.pathname === '/')
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
