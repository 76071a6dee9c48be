// Browser end-to-end tests of reviewing code together: comments on a
// selection (reply, resolve), chat links to lines that follow edits, follow
// mode and presenting. The real gdoc binary (GDOC_BIN) and Debian's
// Chromium, driven by playwright-core, as in gdoc.test.mjs.

import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { artifacts, eventually, makeArtifacts, register, useServerAndBrowser, waitSynced } from './harness.mjs'

async function apiAs(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const token = JSON.parse(localStorage.getItem('gdoc.auth')).token
      const res = await fetch(path, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
      return { status: res.status, body: res.status === 204 ? null : await res.json() }
    },
    { method, path, body },
  )
}

/** select selects whole lines a..b in page's editor. */
async function selectLines(page, a, b) {
  await page.evaluate(
    ({ a, b }) => {
      const ed = window.gdocEditor
      ed.setSelection({ startLineNumber: a, startColumn: 1, endLineNumber: b, endColumn: ed.getModel().getLineMaxColumn(b) })
      ed.focus()
    },
    { a, b },
  )
}

/** visibleLines is the first and last line page's editor shows. */
const visibleLines = (page) =>
  page.evaluate(() => {
    const r = window.gdocEditor.getVisibleRanges()
    return [r[0].startLineNumber, r[r.length - 1].endLineNumber]
  })

/** decoratedLines lists the lines carrying a decoration of class cls. */
const decoratedLines = (page, cls) =>
  page.evaluate((cls) => {
    const ed = window.gdocEditor
    const lines = new Set()
    for (const d of ed.getModel().getAllDecorations()) {
      const classes = `${d.options.className ?? ''} ${d.options.linesDecorationsClassName ?? ''}`.split(' ')
      if (classes.includes(cls)) {
        for (let l = d.range.startLineNumber; l <= d.range.endLineNumber; l++) if (!(l === d.range.endLineNumber && d.range.endColumn === 1 && l > d.range.startLineNumber)) lines.add(l)
      }
    }
    return [...lines].sort((a, b) => a - b)
  }, cls)

const lines = Array.from({ length: 200 }, (_, i) => `line ${i + 1}: value_${i + 1} = ${i + 1}`)
const START = `${lines.join('\n')}\n`

describe('reviewing code together', () => {
  const env = useServerAndBrowser({ name: 'review' })
  let alice
  let bob
  let carol
  let docId
  let aliceName
  const pageErrors = []

  before(async () => {
    makeArtifacts()
    const { baseURL, browser } = env
    alice = await (await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } })).newPage()
    bob = await (await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } })).newPage()
    carol = await (await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } })).newPage()
    for (const page of [alice, bob, carol]) page.on('pageerror', (err) => pageErrors.push(String(err)))
  })

  after(() => {
    assert.deepEqual(pageErrors, [], 'no uncaught error in any page')
  })

  it('opens one document for three people', async () => {
    const n = Date.now() % 100000
    aliceName = `alice${n}`
    await register(alice, aliceName)
    await register(bob, `bob${n}`)
    await register(carol, `carol${n}`)
    const created = await apiAs(alice, 'POST', '/api/documents', { title: 'review.py', content: START })
    assert.equal(created.status, 201)
    docId = created.body.id
    for (const page of [alice, bob, carol]) {
      await page.goto(`/d/${docId}`)
      await page.locator('.monaco-editor').waitFor()
      await page.getByTestId('sync-status').filter({ hasText: 'Connected' }).waitFor()
    }
    await alice.getByTestId('user-count').filter({ hasText: '3 active' }).waitFor()
  })

  it('comments on a selection; the thread stays on its code while others edit', async () => {
    await selectLines(alice, 3, 4)
    await alice.keyboard.press('Control+Alt+KeyM')
    const composer = alice.getByLabel('New comment')
    await composer.waitFor()
    assert.ok(await alice.getByText('Comment on L3-L4').isVisible())
    await composer.fill(`@${aliceName.replace('alice', 'bob')} why is value_3 here?`)
    await alice.locator('.comment-composer').getByRole('button', { name: 'Comment' }).click()
    const thread = alice.getByTestId('comment-thread')
    await thread.waitFor()
    assert.equal(await thread.locator('mark.mention').count(), 1, 'the @mention is highlighted')
    await eventually(async () => assert.deepEqual(await decoratedLines(alice, 'comment-range'), [3, 4]))
    assert.deepEqual(await decoratedLines(alice, 'comment-gutter'), [3])

    // Bob types two lines above it: the thread moves down with its code, for
    // Alice (live) and for the server (what a reload sees).
    await bob.evaluate(() => {
      const ed = window.gdocEditor
      ed.setPosition({ lineNumber: 1, column: 1 })
      ed.focus()
    })
    await bob.keyboard.type('# new 1\n# new 2\n')
    await waitSynced(bob)
    await eventually(async () => assert.deepEqual(await decoratedLines(alice, 'comment-range'), [5, 6]))
    const list = await apiAs(alice, 'GET', `/api/documents/${docId}/comments`)
    const [c] = list.body.comments
    const doc = await apiAs(alice, 'GET', `/api/documents/${docId}`)
    assert.equal([...doc.body.content].slice(c.anchor.from, c.anchor.to).join(''), `${lines[2]}\n${lines[3]}`)
    await alice.screenshot({ path: join(artifacts, 'review-comment.png') })
  })

  it('a second user replies and resolves; the thread leaves the open list', async () => {
    await bob.getByRole('button', { name: /^Comments/ }).click()
    const thread = bob.getByTestId('comment-thread')
    await thread.waitFor()
    assert.match(await thread.textContent(), /why is value_3 here/)
    await eventually(async () => assert.deepEqual(await decoratedLines(bob, 'comment-range'), [5, 6]))
    await thread.getByLabel('Reply').fill('because the test needs it')
    await thread.getByRole('button', { name: 'Reply' }).click()
    await thread.locator('.comment-body', { hasText: 'because the test needs it' }).waitFor()
    // Alice sees the reply live (a comment event over the WebSocket).
    await alice.locator('.comment-body', { hasText: 'because the test needs it' }).waitFor()
    await thread.getByRole('button', { name: 'Resolve' }).click()
    await eventually(async () => assert.equal(await bob.getByTestId('comment-thread').count(), 0))
    assert.deepEqual(await decoratedLines(bob, 'comment-range'), [], 'a resolved thread is not marked in the code')
    await bob.getByRole('tab', { name: 'Resolved' }).click()
    await bob.getByTestId('comment-thread').getByRole('button', { name: 'Reopen' }).waitFor()
    await bob.getByRole('button', { name: 'Close comments' }).click()
  })

  it('a chat link scrolls the other user to the same code, after edits', async () => {
    const pointedAt = await alice.evaluate(() => window.gdocEditor.getModel().getLineContent(150))
    await alice.getByRole('button', { name: 'Open chat' }).click()
    await alice.getByLabel('Chat message').fill('look at L150-L152 please')
    await alice.getByLabel('Chat message').press('Enter')
    // Bob inserts a line above after the link was written: the link follows
    // the code, so it now points at lines 151-153.
    await bob.evaluate(() => {
      const ed = window.gdocEditor
      ed.setPosition({ lineNumber: 1, column: 1 })
      ed.revealLine(1)
      ed.focus()
    })
    await bob.keyboard.type('# one more\n')
    await waitSynced(bob)
    const [, lastBefore] = await visibleLines(bob)
    assert.ok(lastBefore < 140, `bob sees the top (${lastBefore})`)
    await bob.getByRole('button', { name: /Open chat/ }).click()
    await bob.locator('.chat-list').getByRole('button', { name: 'L150-L152' }).click()
    await eventually(async () => {
      const [first, last] = await visibleLines(bob)
      assert.ok(first <= 151 && last >= 153, `bob sees lines ${first}-${last}`)
      assert.deepEqual(await decoratedLines(bob, 'link-flash'), [151, 152, 153])
    })
    const text = await bob.evaluate(() => window.gdocEditor.getModel().getLineContent(151))
    assert.equal(text, pointedAt)
    await bob.screenshot({ path: join(artifacts, 'review-chat-link.png') })
  })

  it('follows a user who scrolls and types elsewhere, and stops on a scroll of your own', async () => {
    await carol.getByRole('button', { name: `Follow ${aliceName}` }).click()
    await carol.getByTestId('follow-notice').filter({ hasText: `Following ${aliceName}` }).waitFor()
    // Alice sees that carol follows her.
    await alice.locator(`li[data-user="${aliceName}"] .badge.followers`).filter({ hasText: '1' }).waitFor()

    await alice.evaluate(() => window.gdocEditor.revealLineNearTop(120))
    await eventually(async () => {
      const [first, last] = await visibleLines(carol)
      assert.ok(first <= 121 && last >= 125, `carol sees ${first}-${last}, alice's view starts at 120`)
    })
    // Alice types far below what she shows: her cursor is kept in view.
    await alice.evaluate(() => {
      const ed = window.gdocEditor
      ed.setPosition({ lineNumber: 190, column: 1 })
      ed.focus()
    })
    await alice.keyboard.type('# reviewed\n')
    await eventually(async () => {
      const [first, last] = await visibleLines(carol)
      assert.ok(first <= 190 && last >= 190, `carol sees ${first}-${last}, alice types at 190`)
    })

    // Carol scrolls herself: following stops, and says so.
    await carol.locator('.monaco-editor .view-lines').hover()
    await carol.mouse.wheel(0, -1500)
    await carol.getByTestId('follow-notice').filter({ hasText: `You stopped following ${aliceName} (you scrolled)` }).waitFor()
    const [mine] = await visibleLines(carol)
    await alice.evaluate(() => window.gdocEditor.revealLineNearTop(30))
    await new Promise((r) => setTimeout(r, 600)) // alice's viewport has reached carol (throttle 150 ms)
    const [after] = await visibleLines(carol)
    assert.equal(after, mine, 'carol no longer follows alice')
    await alice.locator(`li[data-user="${aliceName}"] .badge.followers`).waitFor({ state: 'detached' })
  })

  it("a presenter's request: one user accepts, another declines", async () => {
    await bob.getByRole('button', { name: 'Present' }).click()
    const bobName = aliceName.replace('alice', 'bob')
    for (const page of [alice, carol]) {
      await page.getByTestId('present-prompt').filter({ hasText: `${bobName} is presenting` }).waitFor()
    }
    await alice.getByTestId('present-prompt').getByRole('button', { name: 'Follow' }).click()
    await carol.getByTestId('present-prompt').getByRole('button', { name: 'No thanks' }).click()
    await carol.getByTestId('present-prompt').waitFor({ state: 'detached' })
    const [carolTop] = await visibleLines(carol)

    await bob.evaluate(() => window.gdocEditor.revealLineNearTop(80))
    await eventually(async () => {
      const [first, last] = await visibleLines(alice)
      assert.ok(first <= 81 && last >= 85, `alice follows bob: ${first}-${last}`)
    })
    assert.equal((await visibleLines(carol))[0], carolTop, 'carol declined: her editor stays where it was')
    // Everyone's list shows the presenter and who follows him.
    for (const page of [alice, bob, carol]) {
      await page.locator(`li[data-user="${bobName}"] .badge.presenting`).waitFor()
      await page.locator(`li[data-user="${bobName}"] .badge.followers`).filter({ hasText: '1' }).waitFor()
    }
    await bob.screenshot({ path: join(artifacts, 'review-present.png') })
    await bob.getByRole('button', { name: 'Stop presenting' }).click()
    await alice.locator(`li[data-user="${bobName}"] .badge.presenting`).waitFor({ state: 'detached' })
  })
})
