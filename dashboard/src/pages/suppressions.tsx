import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { del, get, post, query } from '../api';
import { ErrorNote, Loading, Page, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Server, Suppression } from '../types';

/** A server's suppression list: sends to a listed address are held. Search, add, remove. */
export function Suppressions({ id }: { id: string }) {
  const session = useSession();
  const { query: params, route } = useLocation();
  const action = useAction();
  const [address, setAddress] = useState('');
  const [reason, setReason] = useState('');
  const [days, setDays] = useState('');
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ suppressions: Suppression[] }>(`/v2/suppressions${query({ serverId: id, address: params.address })}`),
      ]),
    [id, params.address],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="suppressions" />;
  const [server, { suppressions }] = data;
  const canChange = may(session, server.organizationId, 'member');

  function search(e: Event) {
    e.preventDefault();
    const found = new FormData(e.currentTarget as HTMLFormElement).get('address');
    route(`/servers/${id}/suppressions${query({ address: typeof found === 'string' ? found.trim() : '' })}`);
  }
  async function add(e: Event) {
    e.preventDefault();
    const body = { serverId: id, address, days: days ? Number(days) : null, ...(reason ? { reason } : {}) };
    if (await action.run(() => post('/v2/suppressions', body))) {
      setAddress('');
      setReason('');
      setDays('');
      reload();
    }
  }
  const remove = async (s: Suppression) => {
    if (await action.run(() => del(`/v2/suppressions/${encodeURIComponent(s.address)}${query({ serverId: id })}`)))
      reload();
  };

  return (
    <Page title={`Suppressions · ${server.name}`}>
      <ServerTabs id={id} />
      <search>
        <form class="search" onSubmit={search}>
          <label>
            Find an address <input name="address" type="search" defaultValue={params.address ?? ''} />
          </label>
          <button type="submit">Search</button>
        </form>
      </search>
      {canChange ? (
        <form class="search" onSubmit={add} aria-label="Suppress an address">
          <label>
            Address to suppress{' '}
            <input type="email" required value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
          </label>
          <label>
            Reason <input value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <label>
            Days (empty: for ever){' '}
            <input type="number" min={1} max={3650} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </label>
          <button type="submit">Suppress</button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
      {suppressions.length === 0 ? (
        <p>{params.address ? `${params.address} is not suppressed.` : 'No suppressed address.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">address</th>
              <th scope="col">reason</th>
              <th scope="col">since</th>
              <th scope="col">until</th>
              {canChange ? (
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {suppressions.map((s) => (
              <tr key={s.address}>
                <td>{s.address}</td>
                <td>{s.reason}</td>
                <td>
                  <Time at={s.createdAt} />
                </td>
                <td>{s.expiresAt ? <Time at={s.expiresAt} /> : 'for ever'}</td>
                {canChange ? (
                  <td>
                    <button type="button" class="danger" aria-label={`Remove ${s.address}`} onClick={() => remove(s)}>
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
