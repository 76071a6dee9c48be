// Login and registration forms; registering signs the user in at once.

import { useState, type FormEvent } from 'react'
import { ApiError, api } from '../api'
import type { AuthResponse } from '../protocol'
import { setAuth } from '../auth'
import { navigate, safeNext } from '../router'

function linkTo(path: string) {
  return (e: React.MouseEvent) => {
    e.preventDefault()
    navigate(path)
  }
}

/**
 * useAuthForm runs a login or register call on submit: it signs the user in
 * with the answer and goes on to next, or shows the server's error.
 */
function useAuthForm(next: string | null, call: () => Promise<AuthResponse>, failed: string) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      setAuth(await call())
      navigate(safeNext(next), true)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : failed)
    } finally {
      setBusy(false)
    }
  }
  return { error, busy, submit }
}

export function LoginPage({ next }: { next: string | null }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const { error, busy, submit } = useAuthForm(next, () => api.login({ username: username.trim(), password }), 'Login failed')

  const registerHref = next ? `/register?next=${encodeURIComponent(next)}` : '/register'
  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">G-Doc</h1>
        <p className="subtitle">Sign in to collaborate</p>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p className="switch">
          No account? <a href={registerHref} onClick={linkTo(registerHref)}>Register</a>
        </p>
      </form>
    </main>
  )
}

export function RegisterPage({ next }: { next: string | null }) {
  const [username, setUsername] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const { error, busy, submit } = useAuthForm(
    next,
    () => api.register({ username: username.trim(), email: email.trim(), password }),
    'Registration failed',
  )

  const loginHref = next ? `/login?next=${encodeURIComponent(next)}` : '/login'
  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="register-title">
        <h1 id="register-title">Create your G-Doc account</h1>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Creating account…' : 'Register'}</button>
        <p className="switch">
          Already registered? <a href={loginHref} onClick={linkTo(loginHref)}>Sign in</a>
        </p>
      </form>
    </main>
  )
}
