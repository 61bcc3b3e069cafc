import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { del, get, patch, post } from '../api';
import { ErrorNote, Loading, Page, ShownOnce, StatusBadge, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Server, WebhookDelivery, WebhookEndpoint } from '../types';
import { EventPicker, eventsOf } from '../webhook-event-picker';
import { FormatSelect } from '../webhook-formats';

/**
 * One webhook endpoint: its delivery log, newest first; a finished delivery can be sent again. Members
 * change the endpoint, rotate its signing secret (the new one is shown once) or delete it.
 */
export function Webhook({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const { route } = useLocation();
  const [rotated, setRotated] = useState<string>();
  const { data, error, reload } = useLoad(async () => {
    const endpoint = await get<WebhookEndpoint>(`/v2/webhooks/${id}`);
    const [server, log] = await Promise.all([
      get<Server>(`/v2/servers/${endpoint.serverId}`),
      get<{ deliveries: WebhookDelivery[] }>(`/v2/webhooks/${id}/deliveries?limit=100`),
    ]);
    return { endpoint, server, deliveries: log.deliveries };
  }, [id]);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the webhook endpoint" />;
  const { endpoint, server, deliveries } = data;
  const canChange = may(session, server.organizationId, 'member');
  const redeliver = async (d: WebhookDelivery) => {
    if (await action.run(() => post(`/v2/webhooks/${id}/deliveries/${d.id}/redeliver`))) reload();
  };
  const rotate = async () => {
    if (!confirm('Make a new signing secret? The old one keeps signing beside it for 24 hours.')) return;
    setRotated(undefined);
    await action.run(async () =>
      setRotated((await post<{ secret: string }>(`/v2/webhooks/${id}/secret/rotate`)).secret),
    );
  };
  const remove = async () => {
    if (!confirm(`Delete the endpoint ${endpoint.url} and its delivery log?`)) return;
    if (await action.run(() => del(`/v2/webhooks/${id}`))) route(`/servers/${server.id}/webhooks`);
  };

  return (
    <Page title={`Webhook · ${server.name}`}>
      <ServerTabs id={server.id} />
      <dl class="facts">
        <dt>URL</dt>
        <dd>
          <code>{endpoint.url}</code>
        </dd>
        <dt>events</dt>
        <dd>{endpoint.events ? endpoint.events.join(', ') : 'every event'}</dd>
        <dt>format</dt>
        <dd>{endpoint.format}</dd>
        {endpoint.publicKey ? (
          <>
            <dt>SendGrid verification key</dt>
            <dd>
              <code>{endpoint.publicKey}</code>
            </dd>
          </>
        ) : null}
        <dt>enabled</dt>
        <dd>{endpoint.enabled ? 'yes' : 'no: nothing is sent'}</dd>
        <dt>circuit</dt>
        <dd>
          {endpoint.circuit.state}
          {endpoint.circuit.pausedUntil ? (
            <>
              {' '}
              until <Time at={endpoint.circuit.pausedUntil} />
            </>
          ) : null}
        </dd>
      </dl>
      {canChange ? (
        <>
          <EndpointSettings key={endpoint.id} endpoint={endpoint} onSaved={reload} />
          <p class="actions">
            <button type="button" onClick={rotate}>
              Rotate signing secret
            </button>{' '}
            <button type="button" class="danger" onClick={remove}>
              Delete endpoint
            </button>
          </p>
        </>
      ) : null}
      <ErrorNote error={action.error} />
      {rotated ? (
        <ShownOnce
          what="new signing secret"
          value={rotated}
          note="The old secret keeps signing beside it (a second v1 in X-Postlog-Signature) for 24 hours."
        />
      ) : null}
      <h2>Deliveries</h2>
      {deliveries.length === 0 ? (
        <p>Nothing sent to this endpoint yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">event</th>
              <th scope="col">message</th>
              <th scope="col">status</th>
              <th scope="col">attempts</th>
              <th scope="col">last answer</th>
              <th scope="col">happened</th>
              {canChange ? (
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {deliveries.map((d) => (
              <tr key={d.id}>
                <td>{d.event}</td>
                <td>{d.messageId ? <a href={`/messages/${d.messageId}`}>{d.messageId.slice(0, 8)}</a> : '—'}</td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.attempts.length}</td>
                <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                <td>
                  <Time at={d.eventAt} />
                </td>
                {canChange ? (
                  <td>
                    {d.status === 'pending' ? null : (
                      <button type="button" aria-label={`Redeliver ${d.event} ${d.id}`} onClick={() => redeliver(d)}>
                        Redeliver
                      </button>
                    )}
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

/**
 * The endpoint's URL, format, events and whether it is enabled, changed with PATCH (enabling also
 * closes its circuit).
 */
function EndpointSettings({ endpoint, onSaved }: { endpoint: WebhookEndpoint; onSaved: () => void }) {
  const action = useAction();
  const [url, setUrl] = useState(endpoint.url);
  const [events, setEvents] = useState(new Set(endpoint.events ?? []));
  const [enabled, setEnabled] = useState(endpoint.enabled);
  const [format, setFormat] = useState(endpoint.format);
  const [saved, setSaved] = useState(false);
  async function save(e: Event) {
    e.preventDefault();
    setSaved(false);
    const body = { url, events: eventsOf(events), enabled, format };
    if (await action.run(() => patch(`/v2/webhooks/${endpoint.id}`, body))) {
      setSaved(true);
      onSaved();
    }
  }
  return (
    <form class="card" onSubmit={save} aria-label="Change the endpoint">
      <label class="field">
        Endpoint URL <input type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <FormatSelect value={format} onChange={setFormat} />
      <EventPicker chosen={events} onChange={setEvents} />
      <label>
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> Enabled
      </label>{' '}
      <button type="submit">Save changes</button>
      <ErrorNote error={action.error} />
      {saved ? <p role="status">Saved.</p> : null}
    </form>
  );
}
