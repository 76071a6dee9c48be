// First-load benchmark (not a test): the time from navigating to a document
// to a visible editor showing its text, in Debian's Chromium with the cache
// disabled and the network emulated (CDP Network.emulateNetworkConditions),
// against the real gdoc binary on 127.0.0.1.
//
//   make build && node web/bench/firstload.mjs            # bin/gdoc
//   GDOC_BIN=/path/to/gdoc RUNS=7 PROFILE=10 node web/bench/firstload.mjs
//
// Prints, per network profile, the median and the range of RUNS navigations,
// the bytes that crossed the wire and the Content-Encoding of the editor
// chunk. docs/performance.md reports its figures.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const bin = process.env.GDOC_BIN ?? resolve(here, '..', '..', 'bin', 'gdoc')
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const runs = Number(process.env.RUNS ?? 5)
const only = process.env.PROFILE ?? '' // run only the profiles whose name contains this

// Throughput in bytes per second, latency in ms (added to every request).
const PROFILES = [
  { name: 'loopback', latency: 0, throughput: -1 },
  { name: '50 Mbit/s + 20 ms', latency: 20, throughput: (50e6 / 8) },
  { name: '10 Mbit/s + 40 ms', latency: 40, throughput: (10e6 / 8) },
]

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']

function startServer(dataDir) {
  const server = spawn(bin, [], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, SECRET_KEY: randomBytes(36).toString('base64').slice(0, 48) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((ok, fail) => {
    let log = ''
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${log}`)), 20_000)
    const onData = (chunk) => {
      log += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)
      if (m) { clearTimeout(timer); ok({ server, url: m[1] }) }
    }
    server.stdout.on('data', onData)
    server.stderr.on('data', onData)
    server.on('error', (err) => { clearTimeout(timer); fail(err) })
  })
}

async function api(base, path, token, body) {
  const res = await fetch(base + path, {
    method: body ? 'POST' : 'GET',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body && JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

const dataDir = mkdtempSync(join(tmpdir(), 'gdoc-bench-'))
const { server, url } = await startServer(dataDir)
const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
try {
  const auth = await api(url, '/api/auth/register', '', { username: 'bench', email: 'bench@example.com', password: 'securepass123' })
  const text = 'function hello() {\n  return "first load"\n}\n'
  const doc = await api(url, '/api/documents', auth.access_token, { title: 'bench.js', content: text })
  const context = await browser.newContext({ baseURL: url })
  // Signed in the way the client keeps it (src/auth.ts reads localStorage).
  const setup = await context.newPage()
  await setup.goto('/login')
  await setup.getByLabel('Username').fill('bench')
  await setup.getByLabel('Password').fill('securepass123')
  await setup.getByRole('button', { name: /log in|sign in/i }).click()
  await setup.waitForURL((u) => u.pathname === '/')
  await setup.close()

  console.log(`first load of /d/${doc.id} (${bin}), ${runs} runs each, cache disabled`)
  for (const profile of PROFILES.filter((p) => p.name.includes(only))) {
    const times = []
    let bytes = 0
    let editorEncoding = '?'
    for (let i = 0; i < runs; i++) {
      const page = await context.newPage()
      const cdp = await context.newCDPSession(page)
      await cdp.send('Network.enable')
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: profile.latency, downloadThroughput: profile.throughput, uploadThroughput: profile.throughput,
      })
      let wire = 0
      cdp.on('Network.loadingFinished', (e) => { wire += e.encodedDataLength })
      cdp.on('Network.responseReceived', (e) => {
        if (/EditorPage-[^/]*\.js$/.test(e.response.url)) {
          const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]))
          editorEncoding = h['content-encoding'] || 'identity'
        }
      })
      await page.goto(`/d/${encodeURIComponent(doc.id)}`, { waitUntil: 'commit' })
      // Visible editor: Monaco's lines show the document's first line.
      const ms = await page.waitForFunction(() => {
        const lines = document.querySelector('.monaco-editor .view-lines')
        return lines && lines.getBoundingClientRect().height > 0 && lines.textContent.replace(/\u00a0/g, ' ').includes('function hello()') && performance.now()
      }, null, { polling: 'raf', timeout: 60_000 }).then((h) => h.jsonValue())
      times.push(ms)
      await page.waitForTimeout(200) // let late requests (worker, font) finish for the byte count
      bytes = wire
      await page.close()
    }
    console.log(`${profile.name.padEnd(20)} median ${(median(times) / 1000).toFixed(2)} s  (min ${(Math.min(...times) / 1000).toFixed(2)}, max ${(Math.max(...times) / 1000).toFixed(2)})  ` +
      `${(bytes / 1e6).toFixed(2)} MB on the wire, editor chunk ${editorEncoding}`)
  }
} finally {
  await browser.close()
  server.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 500))
  rmSync(dataDir, { recursive: true, force: true })
}
