import { useState } from 'preact/hooks';
import { post } from '../api';
import { ErrorNote } from '../components';

/**
 * The page an invitation (/welcome) or a reset link (/reset) opens: a new password, then the user
 * is logged in. The link's token works once.
 */
export function SetPassword({ kind, onDone }: { kind: 'invitation' | 'reset'; onDone: () => void }) {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    if (password !== repeat) return setError(new Error('the two passwords differ'));
    setBusy(true);
    try {
      await post(kind === 'invitation' ? '/v2/invitations/accept' : '/v2/password-reset/confirm', { token, password });
      history.replaceState(null, '', '/');
      onDone();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="set-title">
        <h1 id="set-title">{kind === 'invitation' ? 'Welcome to Postlog' : 'Choose a new password'}</h1>
        <p>At least 10 characters; a passphrase is best.</p>
        <label for="new-password">New password</label>
        <input
          id="new-password"
          type="password"
          autocomplete="new-password"
          minLength={10}
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <label for="repeat-password">Repeat it</label>
        <input
          id="repeat-password"
          type="password"
          autocomplete="new-password"
          required
          value={repeat}
          onInput={(e) => setRepeat(e.currentTarget.value)}
        />
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || !token}>
          Set password and sign in
        </button>
        {token ? null : <p class="error">This page needs the link from the email (it has a token).</p>}
      </form>
    </main>
  );
}
