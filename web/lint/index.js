// The linter's TypeScript is 6 (typescript-eslint needs its compiler API);
// the project's tsc is 7. npm hoists ts-api-utils beside TypeScript 7, so its
// require('typescript') is pointed at TypeScript 6 before typescript-eslint loads.
import Module, { createRequire } from 'node:module'

const here = createRequire(import.meta.url)
const ts6Path = here.resolve('typescript')
const utilsTsPath = createRequire(here.resolve('ts-api-utils')).resolve('typescript')
if (utilsTsPath !== ts6Path) {
  const m = new Module(utilsTsPath)
  m.filename = utilsTsPath
  m.exports = here('typescript')
  m.loaded = true
  here.cache[utilsTsPath] = m
}

export const { default: js } = await import('@eslint/js')
export const { default: globals } = await import('globals')
export const { default: reactHooks } = await import('eslint-plugin-react-hooks')
export const { default: reactRefresh } = await import('eslint-plugin-react-refresh')
export const { default: tseslint } = await import('typescript-eslint')
export const { defineConfig, globalIgnores } = await import('eslint/config')
