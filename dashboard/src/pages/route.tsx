import { useEffect, useState } from 'preact/hooks';
import { get, patch } from '../api';
import { ErrorNote, Loading, Page, StatusBadge, Time, useAction, useLoad } from '../components';
import { EndpointFields, ModeFields, type EndpointDraft } from '../route-form';
import { may, useSession } from '../session';
import type { InboundRoute, RouteDelivery, RouteMode, Server, SpamMode } from '../types';

/** One route: change its mode, spam mode and endpoints; its incoming messages per endpoint. */
export function RoutePage({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const { data, error, reload } = useLoad(async () => {
    const route = await get<InboundRoute>(`/v2/routes/${id}`);
    const [server, log] = await Promise.all([
      get<Server>(`/v2/servers/${route.serverId}`),
      get<{ deliveries: RouteDelivery[] }>(`/v2/routes/${id}/deliveries?limit=100`),
    ]);
    return { route, server, deliveries: log.deliveries };
  }, [id]);
  const [mode, setMode] = useState<RouteMode>('endpoint');
  const [spamMode, setSpamMode] = useState<SpamMode>('mark');
  const [endpoints, setEndpoints] = useState<EndpointDraft[]>([]);
  useEffect(() => {
    if (!data) return;
    setMode(data.route.mode);
    setSpamMode(data.route.spamMode);
    setEndpoints(data.route.endpoints);
  }, [data]);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the route" />;
  const { route, server, deliveries } = data;
  const canChange = may(session, server.organizationId, 'member');
  const endpointOf = (endpointId: string) => route.endpoints.find((e) => e.id === endpointId);

  async function save(e: Event) {
    e.preventDefault();
    const body = {
      mode,
      spamMode,
      endpoints: endpoints.map(({ kind, target, format, includeAttachments, stripReplies }) => ({
        kind,
        target,
        format,
        includeAttachments,
        stripReplies,
      })),
    };
    if (await action.run(() => patch(`/v2/routes/${id}`, body))) reload();
  }

  return (
    <Page title={`Route ${route.address}`}>
      <p>
        <a href={`/servers/${server.id}/routes`}>← routes of {server.name}</a>
      </p>
      {canChange ? (
        <form class="stacked" onSubmit={save} aria-label="Change the route">
          <ModeFields mode={mode} spamMode={spamMode} onMode={setMode} onSpamMode={setSpamMode} />
          <EndpointFields endpoints={endpoints} onChange={setEndpoints} />
          <button type="submit">Save route</button>
        </form>
      ) : (
        <p>
          Mode {route.mode}, spam {route.spamMode}; endpoints:{' '}
          {route.endpoints.map((e) => `${e.kind} ${e.target}`).join(', ') || 'none'}.
        </p>
      )}
      <ErrorNote error={action.error} />
      <h2>Messages handed to its endpoints</h2>
      {deliveries.length === 0 ? (
        <p>No message has been handed to an endpoint of this route yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">message</th>
              <th scope="col">endpoint</th>
              <th scope="col">status</th>
              <th scope="col">attempts</th>
              <th scope="col">last answer</th>
              <th scope="col">last attempt</th>
              <th scope="col">next attempt</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((d) => (
              <tr key={`${d.messageId}-${d.endpointId}`}>
                <td>
                  <a href={`/messages/${d.messageId}`}>{d.messageId}</a>
                </td>
                <td>{endpointOf(d.endpointId) ? <code>{endpointOf(d.endpointId)!.target}</code> : <em>removed</em>}</td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.attempts}</td>
                <td>
                  {d.lastStatusCode ?? ''} {d.lastResponse ?? ''}
                </td>
                <td>
                  <Time at={d.lastAttemptAt} />
                </td>
                <td>
                  <Time at={d.nextAttemptAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
