// Monaco bundled locally: the editor core, every language's highlighting, and
// the editor worker only. Imported before the first <Editor> so the React
// wrapper never fetches Monaco from a CDN.

import { loader } from '@monaco-editor/react'
import * as monaco from 'monaco-editor/editor'
import 'monaco-editor/features/register.all'
import 'monaco-editor/languages/definitions/register.all'
import EditorWorker from 'monaco-editor/editor/editor.worker?worker'

self.MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
}

loader.config({ monaco })

export type Monaco = typeof monaco
export { monaco }
