import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router } from 'preact-iso';
import { ApiError, api, get, useCsrfToken, whenUnauthenticated } from './api';
import { ErrorNote, Loading } from './components';
import { Account } from './pages/account';
import { AdminTokens } from './pages/admin-tokens';
import { Analytics } from './pages/analytics';
import { Audit } from './pages/audit';
import { Credentials } from './pages/credentials';
import { Domains } from './pages/domains';
import { Home } from './pages/home';
import { IpPools } from './pages/ip-pools';
import { Login } from './pages/login';
import { Message } from './pages/message';
import { Messages } from './pages/messages';
import { Projections } from './pages/projections';
import { Queue } from './pages/queue';
import { Routes } from './pages/routes';
import { RoutePage } from './pages/route';
import { Templates } from './pages/templates';
import { TrackDomains } from './pages/track-domains';
import { TemplatePage } from './pages/template';
import { ServerOverview } from './pages/server';
import { SetPassword } from './pages/set-password';
import { Settings } from './pages/settings';
import { Suppressions } from './pages/suppressions';
import { managesUsers, Users } from './pages/users';
import { Webhook } from './pages/webhook';
import { Webhooks } from './pages/webhooks';
import { type Session, SessionContext } from './session';
import './styles.css';

function NotFound() {
  return (
    <p>
      No such page. <a href="/">Back to the organizations</a>
    </p>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>();
  const [error, setError] = useState<Error>();

  async function refresh() {
    try {
      const s = await get<Session>('/v2/session');
      useCsrfToken(s.csrfToken);
      setSession(s);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setSession(null);
      else setError(err as Error);
    }
  }

  useEffect(() => {
    whenUnauthenticated(() => setSession(null));
    void refresh();
  }, []);

  // an invitation or reset link: set the password first, whoever is logged in
  const linkPage = { '/welcome': 'invitation', '/reset': 'reset' } as const;
  const link = linkPage[location.pathname as keyof typeof linkPage];
  if (link) return <SetPassword kind={link} onDone={() => void refresh()} />;
  if (error) return <ErrorNote error={error} />;
  if (session === undefined) return <Loading what="Postlog" />;
  if (session === null)
    return (
      <Login
        onLogin={(s) => {
          useCsrfToken(s.csrfToken);
          setSession(s);
          if (location.pathname === '/login') history.replaceState(null, '', '/');
        }}
      />
    );

  async function logout() {
    await api('DELETE', '/v2/session').catch(() => undefined);
    useCsrfToken(undefined);
    setSession(null);
  }

  return (
    <SessionContext.Provider value={{ session, refresh }}>
      <LocationProvider>
        <header class="top">
          <a href="/" class="brand">
            Postlog
          </a>
          <nav aria-label="Main">
            <a href="/">Organizations</a>
            {managesUsers(session) ? <a href="/users">Users</a> : null}
            <a href="/ip-pools">IP pools</a>
            {managesUsers(session) ? <a href="/audit">Audit log</a> : null}
            {managesUsers(session) ? <a href="/admin-tokens">Admin tokens</a> : null}
            <a href="/docs">API docs</a>
            <a href="/graphql">GraphQL</a>
            {session.user.globalAdmin ? <a href="/system/read-models">Read models</a> : null}
          </nav>
          <a class="who" href="/account">
            {session.user.email}
          </a>
          <button type="button" onClick={logout}>
            Sign out
          </button>
        </header>
        <main>
          <Router>
            <Route path="/" component={Home} />
            <Route path="/login" component={Home} />
            <Route path="/servers/:id" component={ServerOverview} />
            <Route path="/servers/:id/messages" component={Messages} />
            <Route path="/servers/:id/domains" component={Domains} />
            <Route path="/servers/:id/track-domains" component={TrackDomains} />
            <Route path="/servers/:id/settings" component={Settings} />
            <Route path="/servers/:id/analytics" component={Analytics} />
            <Route path="/system/read-models" component={Projections} />
            <Route
              path="/account"
              component={() => (
                <Account
                  onChanged={(changed) => {
                    if (!changed) return void refresh();
                    useCsrfToken(changed.csrfToken);
                    setSession(changed);
                  }}
                />
              )}
            />
            <Route path="/servers/:id/credentials" component={Credentials} />
            <Route path="/servers/:id/suppressions" component={Suppressions} />
            <Route path="/servers/:id/webhooks" component={Webhooks} />
            <Route path="/servers/:id/routes" component={Routes} />
            <Route path="/routes/:id" component={RoutePage} />
            <Route path="/servers/:id/templates" component={Templates} />
            <Route path="/templates/:id" component={TemplatePage} />
            <Route path="/servers/:id/queue" component={Queue} />
            <Route path="/webhooks/:id" component={Webhook} />
            <Route path="/users" component={Users} />
            <Route path="/ip-pools" component={IpPools} />
            <Route path="/audit" component={Audit} />
            <Route path="/admin-tokens" component={AdminTokens} />
            <Route path="/messages/:id" component={Message} />
            <Route default component={NotFound} />
          </Router>
        </main>
      </LocationProvider>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
