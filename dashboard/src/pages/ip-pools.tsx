import { get } from '../api';
import { ErrorNote, Loading, Page, useLoad } from '../components';
import type { IpPool } from '../types';

/**
 * The sending IP pools of the configuration, read-only: they are set in postlog.yaml by the
 * operator, and a server is put in one with its ipPool setting (the API, a global admin).
 */
export function IpPools() {
  const { data, error } = useLoad(() => get<{ pools: IpPool[] }>('/v2/ip-pools'), []);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="IP pools" />;
  return (
    <Page title="IP pools">
      {data.pools.length === 0 ? (
        <p>
          No IP pool is configured: every server sends from the default route. Pools are set in postlog.yaml (
          <code>ipPools</code>).
        </p>
      ) : null}
      {data.pools.map((pool) => (
        <article key={pool.name} class="card" aria-labelledby={`pool-${pool.name}`}>
          <h2 id={`pool-${pool.name}`}>{pool.name}</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">address</th>
                <th scope="col">EHLO name</th>
                <th scope="col">weight</th>
              </tr>
            </thead>
            <tbody>
              {pool.addresses.map((a) => (
                <tr key={a.address}>
                  <td>{a.address}</td>
                  <td>{a.ehlo ?? 'the hostname'}</td>
                  <td>{a.weight}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {pool.servers.length === 0 ? (
            <p>No server you can see uses this pool.</p>
          ) : (
            <p>
              Used by{' '}
              {pool.servers.map((s, i) => (
                <span key={s.id}>
                  {i ? ', ' : ''}
                  <a href={`/servers/${s.id}`}>{s.name}</a>
                </span>
              ))}
              .
            </p>
          )}
        </article>
      ))}
    </Page>
  );
}
