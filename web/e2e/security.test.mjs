// Security headers in a real browser: the Content-Security-Policy the server
// sends lets the whole app run (Monaco and its workers, typing, chat, the
// history diff and blame, the offline Swagger UI at /docs) without one violation, and still blocks an
// inline script. Runs the real gdoc binary (GDOC_BIN) on 127.0.0.1.

import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createDocument, eventually, focusEditorEnd, register, useServerAndBrowser, waitSynced } from './harness.mjs'

describe('Content-Security-Policy in the browser', () => {
  const env = useServerAndBrowser({ name: 'csp' })

  /** Every CSP violation and console error any page reported. */
  const problems = []
  /** URLs of the web workers pages started. */
  const workers = []
  let ctx
  let page
  let docId

  before(async () => {
    ctx = await env.browser.newContext({ baseURL: env.baseURL })
    // Report violations from every page and worker start-up to the console,
    // where the listener below collects them.
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`)
      })
    })
    ctx.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text())
    })
    ctx.on('weberror', (err) => problems.push(`page error: ${err.error().message}`))
    page = await ctx.newPage()
    page.on('worker', (w) => workers.push(w.url()))
  })

  it('sends the security headers with pages, assets, API answers and errors', async () => {
    const index = await (await fetch(`${env.baseURL}/`)).text()
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1]
    assert.ok(asset, 'index.html names a script under /assets/')
    for (const path of ['/', '/docs', asset, '/api/documents', '/api/openapi.json', '/api/nope', '/healthz']) {
      const res = await fetch(`${env.baseURL}${path}`)
      const csp = res.headers.get('content-security-policy') ?? ''
      assert.match(csp, /default-src 'self'/, `${path}: ${csp}`)
      assert.match(csp, /script-src 'self'(;|$)/, `${path}: no inline script allowed: ${csp}`)
      assert.match(csp, /worker-src 'self' blob:/, `${path}: ${csp}`)
      assert.match(csp, /frame-ancestors 'none'/, `${path}: ${csp}`)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.equal(res.headers.get('referrer-policy'), 'same-origin', path)
    }
  })

  it('runs the editor, typing, chat and /docs without a violation', async () => {
    await register(page, `csp${Date.now() % 100000}`)
    docId = await createDocument(page, 'policy.ts')
    await page.locator('.monaco-editor').waitFor()
    await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await page.locator('.monaco-editor .view-lines').click()
    await page.keyboard.type('const x: number = 1\nfunction f() { return x }\n', { delay: 10 })
    await waitSynced(page)
    const saved = await (await fetch(`${env.baseURL}/api/documents/${encodeURIComponent(docId)}`)).json()
    assert.match(saved.content, /function f\(\) \{ return x \}/)
    // Monaco started its editor worker from the server's files.
    assert.ok(workers.some((w) => /worker/.test(w)), `no Monaco worker started: ${workers.join(', ')}`)
    await page.getByRole('button', { name: 'Open chat' }).click()
    await page.getByLabel('Chat message').fill('hello under CSP')
    await page.getByLabel('Chat message').press('Enter')
    await page.getByTestId('chat-message').filter({ hasText: 'hello under CSP' }).waitFor()
    // The history panel (Monaco's diff editor) and blame run under it too.
    await page.getByRole('button', { name: 'History' }).click()
    await page.getByTestId('history-panel').waitFor()
    await page.waitForFunction(() => window.gdocDiffEditor?.getModifiedEditor().getValue().includes('return x'), null, { timeout: 15_000 })
    await page.getByRole('button', { name: 'Close history' }).click()
    await page.getByRole('button', { name: 'Blame' }).click()
    await page.getByTestId('blame-legend').filter({ hasText: /csp/ }).waitFor({ timeout: 15_000 })

    await page.goto('/docs')
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 15_000 })
    await page.locator('.swagger-ui .opblock-summary').first().click()
    await page.locator('.swagger-ui .opblock-body').first().waitFor()
    assert.deepEqual(problems, [])
  })

  it('a token refreshed in another tab (which revokes the old one) keeps this tab signed in and editing', async () => {
    const tab = await ctx.newPage()
    const sockets = []
    tab.on('websocket', (ws) => sockets.push(ws.url()))
    const pages = []
    tab.on('framenavigated', (f) => {
      if (f === tab.mainFrame()) pages.push(new URL(f.url()).pathname)
    })
    await tab.goto(`/d/${encodeURIComponent(docId)}`)
    await tab.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    const connectedAt = Date.now()

    // Another tab refreshes: the server rotates the token, that tab stores the new one.
    const other = await ctx.newPage()
    await other.goto('/docs')
    const { oldToken, newToken } = await other.evaluate(async () => {
      const state = JSON.parse(localStorage.getItem('gdoc.auth'))
      const res = await fetch('/api/auth/refresh', { method: 'POST', headers: { Authorization: `Bearer ${state.token}` } })
      const body = await res.json()
      localStorage.setItem('gdoc.auth', JSON.stringify({ token: body.access_token, user: body.user }))
      return { oldToken: state.token, newToken: body.access_token }
    })
    assert.notEqual(newToken, oldToken)
    const me = await fetch(`${env.baseURL}/api/auth/me`, { headers: { Authorization: `Bearer ${oldToken}` } })
    assert.equal(me.status, 401, 'the refreshed token is revoked')

    // This tab's REST calls carry the new token (a language change is a PUT).
    await tab.getByLabel('Language').selectOption('python')
    await tab.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    await eventually(async () => {
      const doc = await (await fetch(`${env.baseURL}/api/documents/${encodeURIComponent(docId)}`)).json()
      assert.equal(doc.language, 'python')
    })

    // The server closes the socket opened with the revoked token at its next
    // token check (60 s); the tab reconnects with the new one.
    const deadline = connectedAt + 75_000
    while (sockets.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500))
    assert.ok(sockets.length >= 2, `the socket was not reopened after the token check (${sockets.length} opened)`)
    await tab.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 })
    await focusEditorEnd(tab)
    await tab.keyboard.type('# after rotation\n', { delay: 10 })
    await waitSynced(tab)
    const after = await (await fetch(`${env.baseURL}/api/documents/${encodeURIComponent(docId)}`)).json()
    assert.match(after.content, /# after rotation/)
    assert.ok(!pages.includes('/login'), `the tab was sent to the login page: ${pages.join(' → ')}`)
    assert.deepEqual(problems, [])
    await other.close()
    await tab.close()
  })

  it('blocks an inline script (the policy is enforced, and violations are seen)', async () => {
    await page.goto('/')
    const ran = await page.evaluate(async () => {
      const s = document.createElement('script')
      s.textContent = 'window.inlineRan = true'
      document.body.appendChild(s)
      await new Promise((r) => setTimeout(r, 200))
      return window.inlineRan === true
    })
    assert.equal(ran, false, 'an inline script ran')
    assert.ok(problems.some((p) => /CSP violation: script-src/.test(p)), `no violation reported: ${problems.join('\n')}`)
  })
})
