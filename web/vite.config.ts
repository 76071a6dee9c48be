import react from '@vitejs/plugin-react'
import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

const brotli = promisify(brotliCompress)
const gz = promisify(gzip)

// preloadEditor makes a document's first load fetch the editor chunk (Monaco)
// in parallel with the app's entry, instead of after it ran: a tiny async
// module (a file, as the Content-Security-Policy allows no inline script)
// adds <link rel=modulepreload> on /d/ paths only, so the login and
// dashboard pages still never load the editor.
function preloadEditor(): Plugin {
  let outDir = 'dist'
  let file: { name: string; code: string } | null = null
  return {
    name: 'gdoc-preload-editor',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir)
    },
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx) {
        if (!ctx.bundle || !ctx.filename.endsWith('index.html')) return
        const chunk = Object.values(ctx.bundle).find(
          (c) => c.type === 'chunk' && c.isDynamicEntry && c.facadeModuleId?.endsWith('/src/pages/EditorPage.tsx'),
        )
        if (!chunk) throw new Error('gdoc-preload-editor: no EditorPage chunk in the bundle')
        const code = `if(location.pathname.startsWith('/d/')){const l=document.createElement('link');l.rel='modulepreload';l.href=${JSON.stringify('/' + chunk.fileName)};document.head.appendChild(l)}\n`
        file = { name: `assets/preload-editor-${createHash('sha256').update(code).digest('hex').slice(0, 8)}.js`, code }
        return [{ tag: 'script', attrs: { type: 'module', async: true, src: '/' + file.name }, injectTo: 'head' }]
      },
    },
    async writeBundle() {
      if (file) await writeFile(join(outDir, file.name), file.code)
    },
  }
}

// precompress writes NAME.br and NAME.gz beside every compressible file under
// dist/assets, once at build time at the best settings; the Go server sends
// one of them by Accept-Encoding (internal/httpapi/static.go). A copy that
// saves less than a tenth is not kept.
function precompress(): Plugin {
  const compressible = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json', '.ttf', '.txt', '.map', '.wasm'])
  let outDir = 'dist'
  return {
    name: 'gdoc-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir)
    },
    async closeBundle() {
      const dir = join(outDir, 'assets')
      const names = (await readdir(dir)).filter((n) => compressible.has(extname(n)))
      await Promise.all(names.map(async (name) => {
        const data = await readFile(join(dir, name))
        if (data.length < 1024) return
        const [br, gzipped] = await Promise.all([
          brotli(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
          gz(data, { level: 9 }),
        ])
        if (br.length < data.length * 0.9) await writeFile(join(dir, name + '.br'), br)
        if (gzipped.length < data.length * 0.9) await writeFile(join(dir, name + '.gz'), gzipped)
      }))
    },
  }
}

// Two entry pages: the app (index.html) and the offline Swagger UI (docs.html).
export default defineConfig({
  plugins: [react(), preloadEditor(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        docs: resolve(import.meta.dirname, 'docs.html'),
      },
    },
  },
  server: {
    port: 3000,
    strictPort: true,
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/healthz': 'http://127.0.0.1:8000',
      '/ws': { target: 'http://127.0.0.1:8000', ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    // Speed is not what these tests check; the machine may be busy.
    testTimeout: 60_000,
  },
})
