import { useState } from 'preact/hooks';
import { del, fieldErrors, get, post } from '../api';
import { ErrorNote, FieldError, FormError, Loading, Page, ShownOnce, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { Credential, Server } from '../types';

const KIND_NAMES = {
  api: 'API key',
  smtp: 'SMTP login',
  'smtp-ip': 'SMTP IP range',
  ses: 'SES access key',
} as const;
type Kind = keyof typeof KIND_NAMES;

/**
 * A server's credentials: API keys, SMTP logins and SMTP IP ranges (Postal's SMTP-IP: clients in the
 * range submit without AUTH). Admins create (a secret is shown once; a range has none) and revoke.
 */
export function Credentials({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const [kind, setKind] = useState<Kind>('api');
  const [name, setName] = useState('');
  const [cidr, setCidr] = useState('');
  const [created, setCreated] = useState<{ credential: Credential; secret: string }>();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ credentials: Credential[] }>(`/v2/servers/${id}/credentials`),
      ]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="credentials" />;
  const [server, { credentials }] = data;
  const canManage = may(session, server.organizationId, 'admin');

  async function create(e: Event) {
    e.preventDefault();
    setCreated(undefined);
    const body = { kind, ...(name.trim() ? { name: name.trim() } : {}), ...(kind === 'smtp-ip' ? { cidr } : {}) };
    await action.run(async () => {
      setCreated(await post<{ credential: Credential; secret: string }>(`/v2/servers/${id}/credentials`, body));
      setName('');
      setCidr('');
      reload();
    });
  }
  const fields = fieldErrors(action.error);
  const revoke = async (c: Credential) => {
    if (!confirm(`Revoke the ${KIND_NAMES[c.kind]} "${c.name}"? Clients using it are refused from now on.`)) return;
    if (await action.run(() => del(`/v2/credentials/${c.id}`))) reload();
  };

  return (
    <Page title={`Credentials · ${server.name}`}>
      <ServerTabs id={id} />
      {canManage ? (
        <form class="search" onSubmit={create} aria-label="Create a credential">
          <label>
            Kind
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
              {Object.entries(KIND_NAMES).map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name <input value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          {kind === 'smtp-ip' ? (
            <div class="with-error">
              <label>
                Range (CIDR)
                <input
                  value={cidr}
                  required
                  placeholder="192.0.2.0/24"
                  aria-describedby="credential-cidr-error"
                  aria-invalid={fields.cidr ? true : undefined}
                  onInput={(e) => setCidr(e.currentTarget.value)}
                />
              </label>
              <FieldError id="credential-cidr-error" message={fields.cidr} />
            </div>
          ) : null}
          <button type="submit">Create credential</button>
        </form>
      ) : null}
      <FormError error={action.error} fields={fields} shown={kind === 'smtp-ip' ? ['cidr'] : []} />
      {created?.credential.kind === 'smtp-ip' ? (
        <p class="card" role="status">
          Clients connecting from <code>{created.credential.identifier}</code> may now submit over SMTP without AUTH, as
          this server. It has no secret.
        </p>
      ) : created ? (
        <ShownOnce
          what={
            created.credential.kind === 'api'
              ? 'API key'
              : created.credential.kind === 'ses'
                ? 'secret access key'
                : 'SMTP password'
          }
          value={created.secret}
          note={
            created.credential.kind === 'smtp' ? (
              <>
                The username is <code>{created.credential.identifier}</code>.
              </>
            ) : created.credential.kind === 'ses' ? (
              <>
                The access key id is <code>{created.credential.identifier}</code>: give both to an AWS SDK SESv2 client
                whose endpoint is Postlog.
              </>
            ) : null
          }
        />
      ) : null}
      {credentials.length === 0 ? (
        <p>No credential yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">kind</th>
              <th scope="col">key prefix, username or range</th>
              <th scope="col">created</th>
              <th scope="col">last used</th>
              <th scope="col">state</th>
            </tr>
          </thead>
          <tbody>
            {credentials.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>{KIND_NAMES[c.kind]}</td>
                <td>
                  <code>{c.identifier}</code>
                </td>
                <td>
                  <Time at={c.createdAt} />
                </td>
                <td>
                  <Time at={c.lastUsedAt} />
                </td>
                <td>
                  {c.revoked ? (
                    'revoked'
                  ) : canManage ? (
                    <button type="button" class="danger" aria-label={`Revoke ${c.name}`} onClick={() => revoke(c)}>
                      Revoke
                    </button>
                  ) : (
                    'active'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
