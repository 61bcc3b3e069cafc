import { useState } from 'preact/hooks';
import { del, get, post } from '../api';
import { ErrorNote, Loading, Page, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { InboundRoute, Server } from '../types';

/** A server's inbound routes: mail to an address (or *@domain) is posted to an HTTP endpoint. */
export function Routes({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const [address, setAddress] = useState('');
  const [endpointUrl, setEndpointUrl] = useState('');
  const [format, setFormat] = useState<'json' | 'raw'>('json');
  const { data, error, reload } = useLoad(
    () => Promise.all([get<Server>(`/v2/servers/${id}`), get<{ routes: InboundRoute[] }>(`/v2/servers/${id}/routes`)]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="inbound routes" />;
  const [server, { routes }] = data;
  const canChange = may(session, server.organizationId, 'member');

  async function add(e: Event) {
    e.preventDefault();
    if (await action.run(() => post(`/v2/servers/${id}/routes`, { address, endpointUrl, format }))) {
      setAddress('');
      setEndpointUrl('');
      reload();
    }
  }
  const remove = async (r: InboundRoute) => {
    if (!confirm(`Remove the route of ${r.address}?`)) return;
    if (await action.run(() => del(`/v2/routes/${r.id}`))) reload();
  };

  return (
    <Page title={`Inbound routes · ${server.name}`}>
      <ServerTabs id={id} />
      {canChange ? (
        <form class="search" onSubmit={add} aria-label="Add an inbound route">
          <label>
            Address (or *@domain) <input required value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
          </label>
          <label>
            Endpoint URL{' '}
            <input type="url" required value={endpointUrl} onInput={(e) => setEndpointUrl(e.currentTarget.value)} />
          </label>
          <label>
            Format
            <select value={format} onChange={(e) => setFormat(e.currentTarget.value as 'json' | 'raw')}>
              <option value="json">JSON (parsed)</option>
              <option value="raw">raw message</option>
            </select>
          </label>
          <button type="submit">Add route</button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
      {routes.length === 0 ? (
        <p>No inbound route: mail to this server's verified domains is not taken in.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">address</th>
              <th scope="col">endpoint</th>
              <th scope="col">format</th>
              <th scope="col">created</th>
              {canChange ? (
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {routes.map((r) => (
              <tr key={r.id}>
                <td>{r.address}</td>
                <td>
                  <code>{r.endpointUrl}</code>
                </td>
                <td>{r.format}</td>
                <td>
                  <Time at={r.createdAt} />
                </td>
                {canChange ? (
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Remove the route of ${r.address}`}
                      onClick={() => remove(r)}
                    >
                      Remove
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
