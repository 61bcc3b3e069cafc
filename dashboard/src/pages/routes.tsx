import { useState } from 'preact/hooks';
import { del, get, post } from '../api';
import { ErrorNote, Loading, Page, Time, useAction, useLoad } from '../components';
import { EndpointFields, ModeFields, useRouteDraft } from '../route-form';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { InboundRoute, Server } from '../types';

/** A server's inbound routes: Postal's modes, a spam mode and endpoints (HTTP, SMTP, an address) each. */
export function Routes({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const [address, setAddress] = useState('');
  const draft = useRouteDraft();
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
    const body = {
      address,
      mode: draft.mode,
      spamMode: draft.spamMode,
      endpoints: draft.mode === 'endpoint' ? draft.endpoints : [],
    };
    if (await action.run(() => post(`/v2/servers/${id}/routes`, body))) {
      setAddress('');
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
      <p>
        Mail for these addresses becomes <a href={`/servers/${id}/messages?direction=incoming`}>incoming messages</a>.
      </p>
      {canChange ? (
        <form class="stacked" onSubmit={add} aria-label="Add an inbound route">
          <label>
            Address (or *@domain) <input required value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
          </label>
          <ModeFields
            mode={draft.mode}
            spamMode={draft.spamMode}
            onMode={draft.setMode}
            onSpamMode={draft.setSpamMode}
          />
          {draft.mode === 'endpoint' ? (
            <EndpointFields endpoints={draft.endpoints} onChange={draft.setEndpoints} />
          ) : null}
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
              <th scope="col">mode</th>
              <th scope="col">spam</th>
              <th scope="col">endpoints</th>
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
                <td>
                  <a href={`/routes/${r.id}`}>{r.address}</a>
                </td>
                <td>{r.mode}</td>
                <td>{r.spamMode}</td>
                <td>
                  {r.endpoints.map((e) => (
                    <div key={e.id}>
                      {e.kind} <code>{e.target}</code>
                    </div>
                  ))}
                </td>
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
