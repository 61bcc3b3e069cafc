import { get } from '../api';
import { ErrorNote, Loading, Page, useLoad } from '../components';
import type { Organization, Server } from '../types';

/** Organizations and their servers: where every task starts. */
export function Home() {
  const { data, error } = useLoad(async () => {
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
      {data?.length === 0 ? (
        <p>
          No organization yet. Run <code>postlog init</code> or create one with the API.
        </p>
      ) : null}
      {data?.map((o) => (
        <article key={o.id} class="card">
          <h2>{o.name}</h2>
          {o.servers.length === 0 ? <p>No server in this organization.</p> : null}
          <ul class="links">
            {o.servers.map((s) => (
              <li key={s.id}>
                <a href={`/servers/${s.id}`}>{s.name}</a> <small>{s.mode}</small>
                {s.suspended ? <small class="warn"> suspended</small> : null}
              </li>
            ))}
          </ul>
        </article>
      ))}
    </Page>
  );
}
