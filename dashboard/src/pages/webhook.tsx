import { get, post } from '../api';
import { ErrorNote, Loading, Page, StatusBadge, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Server, WebhookDelivery, WebhookEndpoint } from '../types';

/** One webhook endpoint: its delivery log, newest first; a finished delivery can be sent again. */
export function Webhook({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
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
      <h2>Deliveries</h2>
      <ErrorNote error={action.error} />
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
