import { useState } from 'preact/hooks';
import { del, get, post, put } from '../api';
import { ErrorNote, Loading, Page, ShownOnce, useAction, useLoad } from '../components';
import { may, type OrgRole, type Session, useSession } from '../session';
import type { Organization, User } from '../types';

const ROLES: OrgRole[] = ['viewer', 'member', 'admin'];

/** Whether the Users page is for this session: global admins and the admins of an organization. */
export const managesUsers = (session: Session) =>
  session.user.globalAdmin || session.memberships.some((m) => m.role === 'admin');

/**
 * Dashboard users with their roles: invite one (global admins also invite global admins), change or
 * take away a role in an organization, disable (global admins).
 */
export function Users() {
  const session = useSession();
  const action = useAction();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([get<{ users: User[] }>('/v2/users'), get<{ organizations: Organization[] }>('/v2/organizations')]),
    [],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="users" />;
  const [{ users }, { organizations }] = data;
  const administered = organizations.filter((o) => may(session, o.id, 'admin'));
  const disable = async (u: User) => {
    if (!confirm(`Disable ${u.email}? Their sessions end and they cannot log in.`)) return;
    if (await action.run(() => post(`/v2/users/${u.id}/disable`))) reload();
  };

  return (
    <Page title="Users">
      {administered.length || session.user.globalAdmin ? (
        <Invite organizations={administered} globalAdmin={session.user.globalAdmin} onInvited={reload} />
      ) : null}
      <ErrorNote error={action.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">email</th>
            <th scope="col">roles</th>
            <th scope="col">second factor</th>
            <th scope="col">state</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>{u.email}</td>
              <td>
                {u.globalAdmin ? <p>global admin</p> : null}
                {u.globalAdmin || u.memberships.length ? null : <p>no role</p>}
                {u.memberships.map((m) => (
                  <RoleOf key={m.organizationId} user={u} membership={m} onChange={reload} />
                ))}
              </td>
              <td>{u.totpEnabled ? 'on' : 'off'}</td>
              <td>
                {u.disabled ? (
                  'disabled'
                ) : session.user.globalAdmin && u.id !== session.user.id ? (
                  <button type="button" class="danger" aria-label={`Disable ${u.email}`} onClick={() => disable(u)}>
                    Disable
                  </button>
                ) : (
                  'active'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** A user's role in one organization; its admins can change it or take it away (but not their own). */
function RoleOf({
  user,
  membership,
  onChange,
}: {
  user: User;
  membership: User['memberships'][number];
  onChange: () => void;
}) {
  const session = useSession();
  const action = useAction();
  const [role, setRole] = useState(membership.role);
  const where = `${membership.organizationName}`;
  if (!may(session, membership.organizationId, 'admin'))
    return (
      <p>
        {membership.role} in {where}
      </p>
    );
  async function save(e: Event) {
    e.preventDefault();
    const path = `/v2/users/${user.id}/organizations/${membership.organizationId}`;
    if (await action.run(() => put(path, { role }))) onChange();
  }
  async function remove() {
    if (!confirm(`Take ${user.email} out of ${where}? They lose their role there.`)) return;
    if (await action.run(() => del(`/v2/users/${user.id}/organizations/${membership.organizationId}`))) onChange();
  }
  return (
    <form class="inline" onSubmit={save}>
      <label>
        <span class="sr-only">
          Role of {user.email} in {where}
        </span>
        <select value={role} onChange={(e) => setRole(e.currentTarget.value as OrgRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>{' '}
      in {where}{' '}
      {role !== membership.role ? (
        <button type="submit" aria-label={`Save the role of ${user.email} in ${where}`}>
          Save
        </button>
      ) : null}{' '}
      {user.id === session.user.id ? null : (
        <button type="button" class="danger" aria-label={`Remove ${user.email} from ${where}`} onClick={remove}>
          Remove
        </button>
      )}
      <ErrorNote error={action.error} />
    </form>
  );
}

/** The organization choice that invites a global admin (no organization): only global admins have it. */
const NO_ORGANIZATION = '';

/**
 * Invites someone: the answer's link is shown once, and whether Postlog mailed it. A global admin may
 * invite another global admin, who belongs to no organization.
 */
function Invite({
  organizations,
  globalAdmin,
  onInvited,
}: {
  organizations: Organization[];
  globalAdmin: boolean;
  onInvited: () => void;
}) {
  const action = useAction();
  const [email, setEmail] = useState('');
  const [organizationId, setOrganizationId] = useState(organizations[0]?.id ?? NO_ORGANIZATION);
  const asGlobalAdmin = organizationId === NO_ORGANIZATION;
  const [role, setRole] = useState<OrgRole>('viewer');
  const [invited, setInvited] = useState<{ email: string; inviteUrl: string | null; invitationSent: boolean }>();

  async function invite(e: Event) {
    e.preventDefault();
    setInvited(undefined);
    await action.run(async () => {
      const body = asGlobalAdmin ? { email, globalAdmin: true } : { email, organizationId, role };
      const answer = await post<{ user: User; inviteUrl: string | null; invitationSent: boolean }>('/v2/users', body);
      setInvited({ email: answer.user.email, inviteUrl: answer.inviteUrl, invitationSent: answer.invitationSent });
      setEmail('');
      onInvited();
    });
  }

  return (
    <>
      <form class="search" onSubmit={invite} aria-label="Invite a user">
        <label>
          Email to invite <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Organization
          <select value={organizationId} onChange={(e) => setOrganizationId(e.currentTarget.value)}>
            {organizations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
            {globalAdmin ? <option value={NO_ORGANIZATION}>none: a global admin</option> : null}
          </select>
        </label>
        {asGlobalAdmin ? null : (
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value as OrgRole)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit">Invite</button>
      </form>
      <ErrorNote error={action.error} />
      {invited?.inviteUrl ? (
        <ShownOnce
          what="invitation link"
          value={invited.inviteUrl}
          note={`${invited.email} is invited. ${
            invited.invitationSent
              ? 'The link was mailed to them.'
              : 'The link was not mailed (account mail is not set up): send it to them yourself.'
          } It works once.`}
        />
      ) : null}
    </>
  );
}
