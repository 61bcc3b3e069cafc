import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorNote, Loading, Page, ShownOnce, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Server, WebhookEndpoint } from '../types';
import { EventPicker, eventsOf } from '../webhook-event-picker';
import { FormatSelect } from '../webhook-formats';

/** A server's webhook endpoints: list them, add one (the signing secret is shown once). */
export function Webhooks({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<string>>(new Set());
  const [format, setFormat] = useState('postal');
  const [created, setCreated] = useState<{ endpoint: WebhookEndpoint; secret: string }>();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ webhooks: WebhookEndpoint[] }>(`/v2/servers/${id}/webhooks`),
      ]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="webhooks" />;
  const [server, { webhooks }] = data;
  const canChange = may(session, server.organizationId, 'member');

  async function add(e: Event) {
    e.preventDefault();
    setCreated(undefined);
    const body = { url, events: eventsOf(events), format };
    await action.run(async () => {
      setCreated(await post<{ endpoint: WebhookEndpoint; secret: string }>(`/v2/servers/${id}/webhooks`, body));
      setUrl('');
      setEvents(new Set());
      setFormat('postal');
      reload();
    });
  }

  return (
    <Page title={`Webhooks · ${server.name}`}>
      <ServerTabs id={id} />
      {canChange ? (
        <form class="card" onSubmit={add} aria-label="Add a webhook endpoint">
          <label class="field">
            Endpoint URL <input type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </label>
          <FormatSelect value={format} onChange={setFormat} />
          <EventPicker chosen={events} onChange={setEvents} />
          <button type="submit">Add endpoint</button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
      {created ? (
        <ShownOnce
          what="signing secret"
          value={created.secret}
          note="Requests carry X-Postlog-Signature, made with it (Mailgun format: the body's signature)."
        />
      ) : null}
      {created?.endpoint.publicKey ? (
        <p>
          SendGrid verification key: <code>{created.endpoint.publicKey}</code>
        </p>
      ) : null}
      {webhooks.length === 0 ? (
        <p>No webhook endpoint yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">endpoint</th>
              <th scope="col">events</th>
              <th scope="col">format</th>
              <th scope="col">enabled</th>
              <th scope="col">circuit</th>
            </tr>
          </thead>
          <tbody>
            {webhooks.map((w) => (
              <tr key={w.id}>
                <td>
                  <a href={`/webhooks/${w.id}`}>{w.url}</a>
                </td>
                <td>{w.events ? w.events.join(', ') : 'every event'}</td>
                <td>{w.format}</td>
                <td>{w.enabled ? 'yes' : 'no'}</td>
                <td>
                  {w.circuit.state}
                  {w.circuit.consecutiveFailures ? ` (${w.circuit.consecutiveFailures} failures)` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
