// Routes: /login, /register, / (dashboard), /d/:id (editor). Signed-out
// visitors of a private route go to /login?next=<where they were>.

import { lazy, Suspense, useEffect } from 'react'
import { api } from './api'
import { startSessionRefresh, useAuth } from './auth'
import { LoginPage, RegisterPage } from './pages/AuthPages'
import { Dashboard } from './pages/Dashboard'
import { navigate, useLocation } from './router'

// Monaco is large: load it with the editor page only.
const EditorPage = lazy(() => import('./pages/EditorPage'))

export function App() {
  const { path, query } = useLocation()
  const auth = useAuth()

  useEffect(() => {
    startSessionRefresh(() => api.refresh())
  }, [])

  const isPublic = path === '/login' || path === '/register'
  useEffect(() => {
    if (!auth && !isPublic) navigate(`/login?next=${encodeURIComponent(path + location.search)}`, true)
  }, [auth, isPublic, path])

  if (path === '/login') return <LoginPage next={query.get('next')} />
  if (path === '/register') return <RegisterPage next={query.get('next')} />
  if (!auth) return null
  const doc = /^\/d\/([^/]+)$/.exec(path)
  if (doc) {
    return (
      <Suspense fallback={<div className="loading-page" role="status">Loading editor…</div>}>
        <EditorPage key={doc[1]} docId={decodeURIComponent(doc[1])} />
      </Suspense>
    )
  }
  if (path === '/') return <Dashboard />
  return (
    <main className="page narrow">
      <h1>Page not found</h1>
      <p>
        <a href="/" onClick={(e) => { e.preventDefault(); navigate('/') }}>Back to your documents</a>
      </p>
    </main>
  )
}
