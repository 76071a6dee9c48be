// ESLint as Vite's react-ts template sets it up. The plugins come through
// ./lint (the gdoc-web-lint package), which gives typescript-eslint the
// TypeScript 6 compiler API while `tsc -b` stays on TypeScript 7.
import { defineConfig, globalIgnores, globals, js, reactHooks, reactRefresh, tseslint } from 'gdoc-web-lint'

export default defineConfig([
  globalIgnores(['dist', 'lint']),
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, tseslint.configs.recommended, reactHooks.configs.flat.recommended, reactRefresh.configs.vite],
    languageOptions: {
      ecmaVersion: 2022,
      globals: globals.browser,
    },
  },
  {
    files: ['e2e/**/*.mjs', '*.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      // The e2e files also hold functions that run in the page (page.evaluate).
      globals: { ...globals.node, ...globals.browser },
    },
  },
])
