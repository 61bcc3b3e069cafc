import { get, query } from '../api';
import { ErrorNote, Loading, Page, Time, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import type { QueueDestination, Server } from '../types';

/** What waits to go out, per destination domain: the busiest and the held ones show where mail is stuck. */
export function Queue({ id }: { id: string }) {
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ destinations: QueueDestination[] }>(`/v2/queue${query({ serverId: id })}`),
      ]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the queue" />;
  const [server, { destinations }] = data;
  return (
    <Page
      title={`Queue · ${server.name}`}
      actions={
        <button type="button" onClick={reload}>
          Refresh
        </button>
      }
    >
      <ServerTabs id={id} />
      <QueueTable destinations={destinations} serverId={id} />
    </Page>
  );
}

/** The queue per destination; held counts link to the held messages. */
export function QueueTable({ destinations, serverId }: { destinations: QueueDestination[]; serverId: string }) {
  if (destinations.length === 0) return <p>Nothing waiting.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">domain</th>
          <th scope="col">queued</th>
          <th scope="col">retrying</th>
          <th scope="col">held</th>
          <th scope="col">sending</th>
          <th scope="col">next due</th>
        </tr>
      </thead>
      <tbody>
        {destinations.map((d) => (
          <tr key={d.domain}>
            <td>{d.domain}</td>
            <td>{d.queued}</td>
            <td>{d.retrying}</td>
            <td>{d.held ? <a href={`/servers/${serverId}/messages?status=held`}>{d.held}</a> : 0}</td>
            <td>{d.sending}</td>
            <td>
              <Time at={d.oldest_due} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
