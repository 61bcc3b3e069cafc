import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorNote, Loading, Page, useAction, useLoad } from '../components';
import { may, useSession } from '../session';
import type { Organization, Server } from '../types';

/**
 * Organizations and their servers: where every task starts. A global admin creates organizations;
 * an organization's admin creates its servers (then lands on the new server's settings).
 */
export function Home() {
  const session = useSession();
  const { data, error, reload } = useLoad(async () => {
    const { organizations } = await get<{ organizations: Organization[] }>('/v2/organizations');
    const servers = await Promise.all(
      organizations.map((o) => get<{ servers: Server[] }>(`/v2/organizations/${o.id}/servers`).then((r) => r.servers)),
    );
    return organizations.map((o, i) => ({ ...o, servers: servers[i] ?? [] }));
  }, []);
  return (
    <Page title="Organizations">
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="organizations" /> : null}
      {session.user.globalAdmin ? <NewOrganization onCreated={reload} /> : null}
      {data?.length === 0 ? (
        <p>
          No organization yet. Run <code>postlog init</code> or create one with the API.
        </p>
      ) : null}
      {data?.map((o) => (
        <article key={o.id} class="card" aria-labelledby={`org-${o.id}`}>
          <h2 id={`org-${o.id}`}>{o.name}</h2>
          {o.servers.length === 0 ? <p>No server in this organization.</p> : null}
          <ul class="links">
            {o.servers.map((s) => (
              <li key={s.id}>
                <a href={`/servers/${s.id}`}>{s.name}</a> <small>{s.mode}</small>
                {s.suspended ? <small class="warn"> suspended</small> : null}
              </li>
            ))}
          </ul>
          {may(session, o.id, 'admin') ? <NewServer organization={o} /> : null}
        </article>
      ))}
    </Page>
  );
}

function NewOrganization({ onCreated }: { onCreated: () => void }) {
  const action = useAction();
  const [name, setName] = useState('');
  async function create(e: Event) {
    e.preventDefault();
    if (await action.run(() => post('/v2/organizations', { name }))) {
      setName('');
      onCreated();
    }
  }
  return (
    <form class="search" onSubmit={create} aria-label="Create an organization">
      <label>
        New organization <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <button type="submit">Create organization</button>
      <ErrorNote error={action.error} />
    </form>
  );
}

function NewServer({ organization }: { organization: Organization }) {
  const { route } = useLocation();
  const action = useAction();
  const [name, setName] = useState('');
  const [mode, setMode] = useState<Server['mode']>('live');
  async function create(e: Event) {
    e.preventDefault();
    await action.run(async () => {
      const server = await post<Server>(`/v2/organizations/${organization.id}/servers`, { name, mode });
      route(`/servers/${server.id}/settings`);
    });
  }
  return (
    <form class="search" onSubmit={create} aria-label={`Create a server in ${organization.name}`}>
      <label>
        New server <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Mode
        <select value={mode} onChange={(e) => setMode(e.currentTarget.value as Server['mode'])}>
          <option value="live">live</option>
          <option value="development">development (holds every message)</option>
        </select>
      </label>
      <button type="submit">Create server</button>
      <ErrorNote error={action.error} />
    </form>
  );
}
