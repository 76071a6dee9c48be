// Browser end-to-end tests of history: the real gdoc binary (GDOC_BIN) on
// 127.0.0.1 and Debian's Chromium driven by playwright-core. Two users edit a
// document; one opens History, moves the slider, sees the diff and restores
// an older revision, which reaches the other's tab; blame names both; the
// document downloads; a local file opens as a new document.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { artifacts, createDocument, editorText, eventually, focusEditorEnd, makeArtifacts, newContext, register, useServerAndBrowser, waitSynced } from './harness.mjs'

const foreignRequests = []

async function typeLine(page, text) {
  await focusEditorEnd(page)
  await page.keyboard.type(text, { delay: 10 })
  await waitSynced(page)
}

const pageErrors = []

describe('History in the browser', () => {
  const env = useServerAndBrowser()
  let alice
  let bob
  let docId

  before(async () => {
    makeArtifacts()
    alice = await (await newContext(env.browser, env.baseURL, foreignRequests, { acceptDownloads: true })).newPage()
    bob = await (await newContext(env.browser, env.baseURL, foreignRequests)).newPage()
    for (const page of [alice, bob]) page.on('pageerror', (err) => pageErrors.push(String(err)))
  })

  after(() => {
    assert.deepEqual(foreignRequests, [], 'the client fetched nothing from other hosts')
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages')
  })

  it('two users write lines; History shows the revisions, the slider moves, the diff shows the old text', async () => {
    await register(alice, `alice${Date.now() % 100000}`)
    await register(bob, `bob${Date.now() % 100000}`)
    docId = await createDocument(alice, 'notes.py')
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
    await alice.locator('.blame-glyph').first().waitFor({ state: 'detached', timeout: 10_000 })
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
