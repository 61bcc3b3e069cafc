import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api';
import { ErrorNote } from '../components';
import type { Session } from '../session';

const SSO_ERRORS: Record<string, string> = {
  OIDC_NO_ACCOUNT: 'your identity has no Postlog account here: ask an administrator to invite you',
  OIDC_FAILED: 'the sign-in with your provider did not complete; try again',
  OIDC_UNAVAILABLE: 'the single sign-on provider cannot be reached right now',
};

/** Email and password, then a TOTP code when the account has a second factor; or single sign-on. */
export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const [forgot, setForgot] = useState(false);
  const [sso, setSso] = useState<string | null>(null);
  useEffect(() => {
    get<{ oidc: string | null }>('/v2/session/methods').then(
      (m) => setSso(m.oidc),
      () => setSso(null),
    );
  }, []);
  // back from single sign-on without a session: the reason is in the address
  const ssoError = new URLSearchParams(location.search).get('error');
  const [resetSent, setResetSent] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await post<Session>('/v2/session', { email, password, ...(needTotp ? { totpCode: totp } : {}) });
      onLogin(session);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TOTP_REQUIRED') setNeedTotp(true);
      else setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  async function requestReset(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await post('/v2/password-reset', { email });
      setResetSent(true);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  if (forgot)
    return (
      <main class="login">
        <form onSubmit={requestReset} aria-labelledby="forgot-title">
          <h1 id="forgot-title">Reset your password</h1>
          <label for="reset-email">Email</label>
          <input
            id="reset-email"
            type="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
          <ErrorNote error={error} />
          {resetSent ? (
            <p role="status">If an account has this address, a link to reset its password is on its way.</p>
          ) : null}
          <button type="submit" disabled={busy}>
            Send me a link
          </button>
          <button type="button" class="link" onClick={() => setForgot(false)}>
            Back to sign in
          </button>
        </form>
      </main>
    );

  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Postlog</h1>
        <label for="email">Email</label>
        <input
          id="email"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {needTotp ? (
          <>
            <label for="totp">Authentication code</label>
            <input
              id="totp"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              required
              value={totp}
              onInput={(e) => setTotp(e.currentTarget.value)}
            />
          </>
        ) : null}
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <button type="button" class="link" onClick={() => setForgot(true)}>
          Forgot your password?
        </button>
        {sso ? (
          <a class="sso" href="/v2/session/oidc/start">
            Sign in with {sso}
          </a>
        ) : null}
        {ssoError ? (
          <p class="error" role="alert">
            <code>{ssoError}</code> {SSO_ERRORS[ssoError] ?? 'single sign-on failed'}
          </p>
        ) : null}
      </form>
    </main>
  );
}
