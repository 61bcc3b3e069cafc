import { useState } from 'preact/hooks';
import { del, fieldErrors, get, post } from '../api';
import { CopyButton, ErrorNote, FieldError, FormError, Loading, Page, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Domain, Server, TrackDomain, TrackDomainCheck } from '../types';

/**
 * A server's track domains (Postal's): per sending domain at most one host, e.g. click.example.com,
 * whose CNAME points at Postlog's tracking host. Tracking links use it once a check found the CNAME.
 * Admins add, check and remove them; everyone who sees the server sees them and their state.
 */
export function TrackDomains({ id }: { id: string }) {
  const session = useSession();
  const { data, error, reload } = useLoad(async () => {
    const [server, { domains }] = await Promise.all([
      get<Server>(`/v2/servers/${id}`),
      get<{ domains: Domain[] }>(`/v2/servers/${id}/domains`),
    ]);
    const lists = await Promise.all(
      domains.map((d) => get<{ trackDomains: TrackDomain[] }>(`/v2/domains/${d.id}/track-domains`)),
    );
    return { server, domains, trackDomains: lists.flatMap((l) => l.trackDomains) };
  }, [id]);
  const [added, setAdded] = useState<TrackDomain>();
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="track domains" />;
  const { server, domains, trackDomains } = data;
  const canManage = may(session, server.organizationId, 'admin');
  const free = domains.filter((d) => !trackDomains.some((t) => t.domainId === d.id));
  return (
    <Page title={`Track domains · ${server.name}`}>
      <ServerTabs id={id} />
      <p class="hint">
        Tracking links of a domain's messages point at its track domain once the CNAME record below is found; until
        then, and whenever a check misses it, at Postlog's own address.
      </p>
      {canManage && free.length > 0 ? (
        <AddTrackDomain
          domains={free}
          onAdded={(t) => {
            setAdded(t);
            reload();
          }}
        />
      ) : null}
      {added ? (
        <p class="card once" role="status">
          {added.name} is added. Create this record at your DNS provider, then check it:{' '}
          <code>
            {added.dnsRecord.name} CNAME {added.dnsRecord.value}
          </code>
        </p>
      ) : null}
      {trackDomains.length === 0 ? (
        <p>
          No track domain yet.
          {domains.length === 0 ? ' Add a sending domain first (Domains).' : null}
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">track domain</th>
              <th scope="col">of</th>
              <th scope="col">CNAME record to create</th>
              <th scope="col">pointing to</th>
              <th scope="col">state</th>
              <th scope="col">last checked</th>
              {canManage ? (
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {trackDomains.map((t) => (
              <TrackDomainRow
                key={t.id}
                trackDomain={t}
                domain={domains.find((d) => d.id === t.domainId)?.name ?? ''}
                canManage={canManage}
                onChange={() => {
                  setAdded(undefined);
                  reload();
                }}
              />
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

/** Adds the track domain of one of the server's domains: a label under it, and whether links say https. */
function AddTrackDomain({ domains, onAdded }: { domains: Domain[]; onAdded: (t: TrackDomain) => void }) {
  const action = useAction();
  const [domainId, setDomainId] = useState(domains[0]!.id);
  const [label, setLabel] = useState('click');
  const [https, setHttps] = useState(true);
  const fields = fieldErrors(action.error);
  const chosen = domains.find((d) => d.id === domainId) ?? domains[0]!;
  async function add(e: Event) {
    e.preventDefault();
    await action.run(async () =>
      onAdded(await post<TrackDomain>(`/v2/domains/${chosen.id}/track-domains`, { name: label, https })),
    );
  }
  return (
    <form class="search" onSubmit={add} aria-label="Add a track domain">
      <label>
        Domain
        <select value={chosen.id} onChange={(e) => setDomainId(e.currentTarget.value)}>
          {domains.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      </label>
      <div class="with-error">
        <label>
          Label (the host is label.{chosen.name})
          <input
            value={label}
            required
            aria-describedby="track-label-error"
            aria-invalid={fields.name ? true : undefined}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </label>
        <FieldError id="track-label-error" message={fields.name} />
      </div>
      <label class="check">
        <input type="checkbox" checked={https} onChange={(e) => setHttps(e.currentTarget.checked)} /> Links over HTTPS
      </label>
      <button type="submit">Add track domain</button>
      <FormError error={action.error} fields={fields} shown={['name']} />
    </form>
  );
}

function TrackDomainRow({
  trackDomain: t,
  domain,
  canManage,
  onChange,
}: {
  trackDomain: TrackDomain;
  domain: string;
  canManage: boolean;
  onChange: () => void;
}) {
  const action = useAction();
  const [check, setCheck] = useState<TrackDomainCheck['check']>();
  const recheck = () =>
    action.run(async () => {
      const answer = await post<TrackDomainCheck>(`/v2/domains/${t.domainId}/track-domains/${t.id}/check`);
      setCheck(answer.check);
      // the list shows the state and time the check recorded; what it found stays beside them
      onChange();
    });
  const remove = async () => {
    if (!confirm(`Remove ${t.name}? Links of new messages use Postlog's own address.`)) return;
    if (await action.run(() => del(`/v2/domains/${t.domainId}/track-domains/${t.id}`))) onChange();
  };
  const state = t.verified ? 'CNAME found' : t.dnsCheckedAt ? 'CNAME missing or wrong' : 'not checked yet';
  return (
    <tr>
      <td>
        <code>{t.baseUrl}</code>
      </td>
      <td>{domain}</td>
      <td>
        <code>{t.dnsRecord.name}</code> <CopyButton text={t.dnsRecord.name} label={`name of ${t.name}`} />
      </td>
      <td>
        <code>{t.dnsRecord.value}</code> <CopyButton text={t.dnsRecord.value} label={`target of ${t.name}`} />
      </td>
      <td>
        <span class={`badge ${t.verified ? 'status-delivered' : 'status-held'}`}>{state}</span>
        {check && !check.ok ? (
          <p class="hint">
            Found {check.found.length ? check.found.join(', ') : 'nothing'}, expected {check.expected}.
          </p>
        ) : null}
        <ErrorNote error={action.error} />
      </td>
      <td>
        <Time at={t.dnsCheckedAt} />
      </td>
      {canManage ? (
        <td>
          <button type="button" aria-label={`Check the CNAME of ${t.name}`} onClick={recheck}>
            Check
          </button>{' '}
          <button type="button" class="danger" aria-label={`Remove ${t.name}`} onClick={remove}>
            Remove
          </button>
        </td>
      ) : null}
    </tr>
  );
}
