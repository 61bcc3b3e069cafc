import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { get, post, query } from '../api';
import { ErrorNote, Loading, Page, StatusBadge, Time, useLoad } from '../components';
import { parseSearch, type SearchFilters, searchText } from '../message-search';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { MessageRow, Server } from '../types';

/** The page's address holds the API's parameters (the sender as `sender`: `from` and `to` are the days). */
const URL_OF: Record<keyof SearchFilters, string> = {
  recipient: 'recipient',
  from: 'sender',
  messageId: 'messageId',
  tag: 'tag',
  status: 'status',
  spam: 'spam',
  q: 'q',
};

/**
 * Search a server's messages with Postal's search syntax in one box (message-search.ts) and a range
 * of days; download what matches as CSV; held ones can be released or cancelled in bulk.
 */
export function Messages({ id }: { id: string }) {
  const session = useSession();
  const { query: params, route } = useLocation();
  const [cursor, setCursor] = useState<string>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<Error>();
  const [done, setDone] = useState<string>();
  const [searchError, setSearchError] = useState<string>();
  const searched: SearchFilters = Object.fromEntries(
    Object.entries(URL_OF).flatMap(([key, name]) => (params[name] ? [[key, params[name]]] : [])),
  );
  const filters = {
    ...searched,
    // sent mail by default; mail received for the server's routes with direction=incoming
    direction: params.direction === 'incoming' ? 'incoming' : undefined,
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
    const parsed = parseSearch(String(form.get('search') ?? ''));
    if (!parsed.ok) return setSearchError(parsed.message);
    setSearchError(undefined);
    const next: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed.filters)) next[URL_OF[key as keyof SearchFilters]] = value;
    for (const day of ['from', 'to', 'direction']) {
      const value = form.get(day);
      if (typeof value === 'string' && value) next[day] = value;
    }
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
          <label class="query">
            Search
            <input
              name="search"
              key={searchText(searched)}
              defaultValue={searchText(searched)}
              placeholder="from:shop@example.com to:someone@example.org status:held subject:order"
              aria-describedby="search-help"
              aria-invalid={searchError ? 'true' : undefined}
            />
          </label>
          <label>
            Direction
            <select name="direction" defaultValue={params.direction ?? ''} key={params.direction ?? ''}>
              <option value="">Outgoing</option>
              <option value="incoming">Incoming</option>
            </select>
          </label>
          <label>
            From <input type="date" name="from" defaultValue={params.from ?? ''} />
          </label>
          <label>
            To <input type="date" name="to" defaultValue={params.to ?? ''} />
          </label>
          <button type="submit">Search</button>
          <a href={`/v2/messages.csv${query({ serverId: id, ...filters })}`} download>
            Download CSV
          </a>
        </form>
        <p id="search-help" class={searchError ? 'error' : 'hint'} role={searchError ? 'alert' : undefined}>
          {searchError ??
            'from: to: msgid: tag: status: spam: subject: as in Postal; other words are searched in the subject. ' +
              'The CSV holds at most 100,000 messages.'}
        </p>
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
