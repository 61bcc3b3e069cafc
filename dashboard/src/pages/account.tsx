import { useState } from 'preact/hooks';
import { post } from '../api';
import { ErrorNote, Page } from '../components';
import { QrCode } from '../qr-code';
import { type Session, useSession } from '../session';

/** The logged-in user's own settings: password, second factor, sessions. */
export function Account({ onChanged }: { onChanged: (s?: Session) => void }) {
  const session = useSession();
  return (
    <Page title="Your account">
      <p>
        Logged in as <strong>{session.user.email}</strong>
        {session.user.globalAdmin ? ' (global admin)' : ''}.
      </p>
      <ChangePassword onChanged={onChanged} />
      <SecondFactor enabled={session.user.totpEnabled} onChanged={() => onChanged()} />
      <h2>Sessions</h2>
      <p>Logging out everywhere ends every session of this account, this one too.</p>
      <button type="button" onClick={() => post('/v2/session/logout-everywhere').finally(() => onChanged())}>
        Log out everywhere
      </button>
    </Page>
  );
}

function ChangePassword({ onChanged }: { onChanged: (s?: Session) => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<Error>();
  const [done, setDone] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      // the answer is a new session (the others end): its CSRF token replaces this one's
      onChanged(await post<Session>('/v2/session/password', { currentPassword: current, newPassword: next }));
      setDone(true);
      setCurrent('');
      setNext('');
    } catch (err) {
      setError(err as Error);
    }
  }
  return (
    <form onSubmit={submit} class="stack" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <label for="current-password">Current password</label>
      <input
        id="current-password"
        type="password"
        autocomplete="current-password"
        required
        value={current}
        onInput={(e) => setCurrent(e.currentTarget.value)}
      />
      <label for="next-password">New password (at least 10 characters)</label>
      <input
        id="next-password"
        type="password"
        autocomplete="new-password"
        minLength={10}
        required
        value={next}
        onInput={(e) => setNext(e.currentTarget.value)}
      />
      <ErrorNote error={error} />
      {done ? <p role="status">Password changed; your other sessions have ended.</p> : null}
      <button type="submit">Change password</button>
    </form>
  );
}

function SecondFactor({ enabled, onChanged }: { enabled: boolean; onChanged: () => void }) {
  const [setup, setSetup] = useState<{ secret: string; uri: string }>();
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error>();
  const run = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <section aria-labelledby="totp-title">
      <h2 id="totp-title">Second factor</h2>
      {enabled ? (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await post('/v2/session/totp/disable', { password });
              onChanged();
            });
          }}
        >
          <p>On: logging in asks for a code from your authenticator app.</p>
          <label for="totp-off-password">Password, to turn it off</label>
          <input
            id="totp-off-password"
            type="password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <button type="submit" class="danger">
            Turn off
          </button>
        </form>
      ) : setup ? (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await post('/v2/session/totp/enable', { code });
              setSetup(undefined);
              onChanged();
            });
          }}
        >
          <p>
            Scan the QR code with your authenticator app (or add the key to it, or open the link on the phone that has
            it), then enter its code.
          </p>
          <QrCode text={setup.uri} label="QR code of the authenticator link" />
          <p>
            Key: <code>{setup.secret}</code>
          </p>
          <p>
            <a href={setup.uri}>Open in an authenticator app</a>
          </p>
          <label for="totp-code">Code from the app</label>
          <input
            id="totp-code"
            inputMode="numeric"
            pattern="[0-9]{6}"
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <button type="submit">Turn on</button>
        </form>
      ) : (
        <>
          <p>Off. With a second factor, a stolen password alone does not log in.</p>
          <button type="button" onClick={() => run(async () => setSetup(await post('/v2/session/totp/setup')))}>
            Set up a second factor
          </button>
        </>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
