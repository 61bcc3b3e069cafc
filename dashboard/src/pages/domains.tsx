import { useState } from 'preact/hooks';
import { del, get, post } from '../api';
import { CopyButton, ErrorNote, Loading, Page, Time, useLoad } from '../components';
import { BlocklistBadges, loadListings, type BlocklistListing } from '../blocklists';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Domain, DomainCheck, Server } from '../types';

/** One domain: the DNS records to publish (with copy buttons), and the live check of each. */
function DomainCard({
  domain,
  canManage,
  onChange,
  listings,
}: {
  domain: Domain;
  canManage: boolean;
  onChange: () => void;
  listings: BlocklistListing[];
}) {
  const [check, setCheck] = useState<DomainCheck>();
  const [error, setError] = useState<Error>();
  const act = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
      onChange();
    } catch (err) {
      setError(err as Error);
    }
  };
  const okOf = (purpose: string, name: string) =>
    check?.checks.find((c) => c.purpose === purpose && c.name === name)?.ok;
  return (
    <article class="card" aria-labelledby={`domain-${domain.id}`}>
      <header class="page-head">
        <h2 id={`domain-${domain.id}`}>
          {domain.name}{' '}
          <span class={`badge ${domain.verified ? 'status-delivered' : 'status-held'}`}>
            {domain.verified ? 'verified' : 'not verified'}
          </span>{' '}
          {domain.dnsCheck?.status === 'failing' ? (
            <span class="badge status-bounced" title={`periodic check at ${domain.dnsCheck.checkedAt}`}>
              DNS failing
            </span>
          ) : null}{' '}
          <BlocklistBadges listings={listings.filter((l) => l.kind === 'domain' && l.target === domain.name)} />
        </h2>
        <div class="actions">
          <button
            type="button"
            onClick={() => act(async () => setCheck(await post<DomainCheck>(`/v2/domains/${domain.id}/verify`)))}
          >
            Check DNS
          </button>
          {canManage ? (
            <>
              <button type="button" onClick={() => act(() => post(`/v2/domains/${domain.id}/dkim/rotate`))}>
                Rotate DKIM key
              </button>
              <button
                type="button"
                class="danger"
                onClick={() => confirm(`Remove ${domain.name}?`) && act(() => del(`/v2/domains/${domain.id}`))}
              >
                Remove
              </button>
            </>
          ) : null}
        </div>
      </header>
      {domain.dnsCheck ? (
        <p class="hint">
          Last periodic DNS check:{' '}
          {domain.dnsCheck.status === 'ok' ? 'all records in place' : 'records missing or wrong'},{' '}
          <Time at={domain.dnsCheck.checkedAt} />.
        </p>
      ) : null}
      <ErrorNote error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">record</th>
            <th scope="col">type</th>
            <th scope="col">name</th>
            <th scope="col">value</th>
            <th scope="col">check</th>
          </tr>
        </thead>
        <tbody>
          {domain.dnsRecords.map((r) => {
            const ok = okOf(r.purpose, r.name);
            return (
              <tr key={`${r.purpose}-${r.name}`}>
                <td>
                  {r.purpose}
                  {r.required ? '' : ' (recommended)'}
                </td>
                <td>{r.type}</td>
                <td>
                  <code>{r.name}</code> <CopyButton text={r.name} label={`${r.purpose} name`} />
                </td>
                <td class="dns-value">
                  <code>{r.value}</code> <CopyButton text={r.value} label={`${r.purpose} value`} />
                </td>
                <td>{ok === undefined ? '—' : ok ? 'found' : 'missing'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </article>
  );
}

/** A server's sending domains: add one, publish its records, check them, rotate its DKIM key. */
export function Domains({ id }: { id: string }) {
  const session = useSession();
  const [name, setName] = useState('');
  const [ed25519, setEd25519] = useState(false);
  const [vouched, setVouched] = useState(false);
  const [addError, setAddError] = useState<Error>();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ domains: Domain[] }>(`/v2/servers/${id}/domains`),
        loadListings(),
      ]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="domains" />;
  const [server, { domains }, listings] = data;
  const canManage = may(session, server.organizationId, 'admin');

  async function add(e: Event) {
    e.preventDefault();
    setAddError(undefined);
    try {
      await post(`/v2/servers/${id}/domains`, { name, ed25519, ...(vouched ? { verified: true } : {}) });
      setName('');
      reload();
    } catch (err) {
      setAddError(err as Error);
    }
  }

  return (
    <Page title={`Domains · ${server.name}`}>
      <ServerTabs id={id} />
      {canManage ? (
        <form class="search" onSubmit={add} aria-label="Add a domain">
          <label>
            Domain to send from{' '}
            <input name="domain" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" checked={ed25519} onChange={(e) => setEd25519(e.currentTarget.checked)} /> Also sign
            with Ed25519
          </label>
          {session.user.globalAdmin ? (
            <label class="check">
              <input type="checkbox" checked={vouched} onChange={(e) => setVouched(e.currentTarget.checked)} /> Verified
              without a DNS check
            </label>
          ) : null}
          <button type="submit">Add domain</button>
        </form>
      ) : null}
      <ErrorNote error={addError} />
      {domains.length === 0 ? (
        <p>No domain yet: add the domain your mail comes from, then publish its records.</p>
      ) : null}
      {domains.map((d) => (
        <DomainCard key={d.id} domain={d} canManage={canManage} onChange={reload} listings={listings} />
      ))}
    </Page>
  );
}
