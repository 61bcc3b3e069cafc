import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { get, post, query } from '../api';
import { ErrorNote, Loading, Page, StatusBadge, Time, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { MessageRow, Server } from '../types';

const STATUSES = ['', 'held', 'queued', 'deferred', 'delivered', 'bounced', 'failed', 'cancelled'];

/** Search a server's messages; held ones can be released or cancelled in bulk. */
export function Messages({ id }: { id: string }) {
  const session = useSession();
  const { query: params, route } = useLocation();
  const [cursor, setCursor] = useState<string>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<Error>();
  const [done, setDone] = useState<string>();
  const filters = {
    status: params.status,
    recipient: params.recipient,
    tag: params.tag,
    q: params.q,
    // a day in the form is the whole day, UTC
    since: params.from ? `${params.from}T00:00:00Z` : undefined,
    until: params.to ? new Date(Date.parse(`${params.to}T00:00:00Z`) + 86_400_000).toISOString() : undefined,
  };
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ messages: MessageRow[]; nextCursor: string | null }>(
          `/v2/messages${query({ serverId: id, ...filters, cursor, limit: 50 })}`,
        ),
      ]),
    [id, JSON.stringify(filters), cursor],
  );
  const server = data?.[0];
  const canAct = server ? may(session, server.organizationId, 'member') : false;

  function search(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const [k, v] of form) if (typeof v === 'string' && v) next[k] = v;
    setCursor(undefined);
    route(`/servers/${id}/messages${query(next)}`);
  }

  async function bulk(action: 'release' | 'cancel') {
    setActionError(undefined);
    setDone(undefined);
    try {
      // held messages are found in the held state; a cancel of queued ones in the queued state
      const state = params.status === 'held' || action === 'release' ? 'held' : 'queued';
      const result = await post<{ matched: number; applied: number; failed: { id: string; code: string }[] }>(
        `/v2/messages/bulk/${action}`,
        { serverId: id, state, ids: [...selected] },
      );
      const refused = result.failed.map((f) => `${f.id}: ${f.code}`).join(', ');
      setDone(
        `${action === 'release' ? 'Released' : 'Cancelled'} ${result.applied} of ${selected.size}${refused ? ` (not: ${refused})` : ''}.`,
      );
      setSelected(new Set());
      // the list is a read model that follows the log: give it a moment before reading again
      setTimeout(reload, 500);
    } catch (err) {
      setActionError(err as Error);
    }
  }

  return (
    <Page title={server ? `Messages · ${server.name}` : 'Messages'}>
      <ServerTabs id={id} />
      <search>
        <form class="search" onSubmit={search}>
          <label>
            Recipient <input name="recipient" defaultValue={params.recipient ?? ''} />
          </label>
          <label>
            Subject <input name="q" defaultValue={params.q ?? ''} />
          </label>
          <label>
            Tag <input name="tag" defaultValue={params.tag ?? ''} />
          </label>
          <label>
            From <input type="date" name="from" defaultValue={params.from ?? ''} />
          </label>
          <label>
            To <input type="date" name="to" defaultValue={params.to ?? ''} />
          </label>
          <label>
            Status
            <select name="status" value={params.status ?? ''}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || 'any'}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Search</button>
        </form>
      </search>
      <ErrorNote error={error ?? actionError} />
      {done ? <p role="status">{done}</p> : null}
      {canAct && selected.size > 0 ? (
        <fieldset class="bulk">
          <legend class="sr-only">Selected messages</legend>
          <span>{selected.size} selected</span>
          <button type="button" onClick={() => bulk('release')}>
            Release
          </button>
          <button type="button" class="danger" onClick={() => bulk('cancel')}>
            Cancel
          </button>
        </fieldset>
      ) : null}
      {!data && !error ? <Loading what="messages" /> : null}
      {data ? (
        <table class="messages">
          <thead>
            <tr>
              {canAct ? (
                <th scope="col">
                  <span class="sr-only">select</span>
                </th>
              ) : null}
              <th scope="col">to</th>
              <th scope="col">subject</th>
              <th scope="col">status</th>
              <th scope="col">accepted</th>
            </tr>
          </thead>
          <tbody>
            {data[1].messages.map((m) => (
              <tr key={m.id}>
                {canAct ? (
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`select message ${m.id} to ${m.to}`}
                      checked={selected.has(m.id)}
                      onChange={(e) => {
                        const next = new Set(selected);
                        if (e.currentTarget.checked) next.add(m.id);
                        else next.delete(m.id);
                        setSelected(next);
                      }}
                    />
                  </td>
                ) : null}
                <td>{m.to}</td>
                <td>
                  <a href={`/messages/${m.id}`}>{m.subject || '(no subject)'}</a>
                </td>
                <td>
                  <StatusBadge status={m.status} />
                </td>
                <td>
                  <Time at={m.acceptedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {data?.[1].messages.length === 0 ? <p>No message matches.</p> : null}
      {data?.[1].nextCursor ? (
        <button type="button" onClick={() => setCursor(data[1].nextCursor ?? undefined)}>
          Older messages
        </button>
      ) : null}
    </Page>
  );
}
