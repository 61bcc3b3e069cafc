import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Actor,
  authorize,
  isGlobalAdmin,
  visibleOrganizations,
  maySee,
  serverScopeRule,
  type ServerScopeRule,
  systemActor,
  type TenancyAction,
} from '../../domain/index.js';

const ORG_A = '0c6c1f9e-0000-4000-8000-00000000000a';
const ORG_B = '0c6c1f9e-0000-4000-8000-00000000000b';
const globalAdmin = systemActor('operator');
const adminOfA: Actor = { label: 'admin-token:a', organizationId: ORG_A };
/** A dashboard user: member of A, viewer of B. */
const userInAandB: Actor = {
  label: 'user:ann@example.com',
  organizationId: null,
  userId: 'u1',
  roles: { [ORG_A]: 'member', [ORG_B]: 'viewer' },
};
const adminUserOfB: Actor = {
  label: 'user:bob@example.com',
  organizationId: null,
  userId: 'u2',
  roles: { [ORG_B]: 'admin' },
};

/** allowed, or the error code and the message's start (NOT_FOUND names what was asked for). */
type Then = 'allowed' | { code: 'NOT_FOUND' | 'FORBIDDEN'; message: string };

/** e.g. "organization A's admin: update-server of B (suspended) → NOT_FOUND". */
function title(given: Actor, when: TenancyAction, then: Then): string {
  const who = given === globalAdmin ? 'a global admin' : "organization A's admin";
  const whose = !('organizationId' in when)
    ? ''
    : ` of ${when.organizationId === ORG_A ? 'A' : when.organizationId === ORG_B ? 'B' : 'no organization'}`;
  const details = 'changes' in when ? ` (${Object.keys(when.changes).join(', ')})` : '';
  const verified = 'verified' in when && when.verified ? ' as verified' : '';
  return `${who}: ${when.do}${whose}${details}${verified} → ${then === 'allowed' ? 'allowed' : then.code}`;
}

describe('tenancy authorization: who may do what', () => {
  const cases: { given: Actor; when: TenancyAction; then: Then }[] = [
    // organizations: only the operator makes or removes tenants
    { given: globalAdmin, when: { do: 'create-organization' }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'create-organization' },
      then: { code: 'FORBIDDEN', message: 'only a global admin can create organizations' },
    },
    { given: globalAdmin, when: { do: 'delete-organization' }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'delete-organization' },
      then: { code: 'FORBIDDEN', message: 'only a global admin can delete organizations' },
    },
    { given: globalAdmin, when: { do: 'see-organization', organizationId: ORG_B }, then: 'allowed' },
    { given: adminOfA, when: { do: 'see-organization', organizationId: ORG_A }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'see-organization', organizationId: ORG_B },
      then: { code: 'NOT_FOUND', message: 'organization not found' },
    },
    // servers: another tenant's is not found, not forbidden, so its id cannot be probed
    { given: adminOfA, when: { do: 'see-server', organizationId: ORG_A }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'see-server', organizationId: ORG_B },
      then: { code: 'NOT_FOUND', message: 'server not found' },
    },
    {
      given: adminOfA,
      when: { do: 'update-server', organizationId: ORG_A, changes: { name: 'x', trackOpens: false } },
      then: 'allowed',
    },
    ...(['suspended', 'suspendedReason', 'sendLimitPerHour', 'ipPool'] as const).map((lever) => ({
      given: adminOfA,
      when: { do: 'update-server' as const, organizationId: ORG_A, changes: { [lever]: null } },
      then: {
        code: 'FORBIDDEN' as const,
        message: 'only a global admin can change suspension, send limits or IP pools',
      },
    })),
    {
      given: adminOfA,
      when: { do: 'update-server', organizationId: ORG_B, changes: { suspended: true } },
      then: { code: 'NOT_FOUND', message: 'server not found' },
    },
    {
      given: globalAdmin,
      when: { do: 'update-server', organizationId: ORG_B, changes: { suspended: true, ipPool: 'p' } },
      then: 'allowed',
    },
    // domains: vouching for one (verified without DNS proof) is the operator's
    { given: adminOfA, when: { do: 'add-domain', organizationId: ORG_A, verified: false }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'add-domain', organizationId: ORG_A, verified: true },
      then: { code: 'FORBIDDEN', message: 'only a global admin can add a domain as verified' },
    },
    {
      given: adminOfA,
      when: { do: 'add-domain', organizationId: ORG_B, verified: true },
      then: { code: 'NOT_FOUND', message: 'server not found' },
    },
    { given: globalAdmin, when: { do: 'add-domain', organizationId: ORG_B, verified: true }, then: 'allowed' },
    // credentials
    { given: adminOfA, when: { do: 'revoke-credential', organizationId: ORG_A }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'revoke-credential', organizationId: ORG_B },
      then: { code: 'NOT_FOUND', message: 'credential not found' },
    },
    // admin tokens: global ones are the operator's
    { given: adminOfA, when: { do: 'create-admin-token', organizationId: ORG_A }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'create-admin-token', organizationId: null },
      then: { code: 'FORBIDDEN', message: 'only a global admin can create a global admin token' },
    },
    {
      given: adminOfA,
      when: { do: 'create-admin-token', organizationId: ORG_B },
      then: { code: 'NOT_FOUND', message: 'organization not found' },
    },
    { given: globalAdmin, when: { do: 'create-admin-token', organizationId: null }, then: 'allowed' },
    { given: adminOfA, when: { do: 'revoke-admin-token', organizationId: ORG_A }, then: 'allowed' },
    {
      given: adminOfA,
      when: { do: 'revoke-admin-token', organizationId: null },
      then: { code: 'NOT_FOUND', message: 'admin token not found' },
    },
    {
      given: adminOfA,
      when: { do: 'revoke-admin-token', organizationId: ORG_B },
      then: { code: 'NOT_FOUND', message: 'admin token not found' },
    },
    { given: globalAdmin, when: { do: 'revoke-admin-token', organizationId: ORG_B }, then: 'allowed' },
  ];

  for (const { given, when, then } of cases) {
    it(title(given, when, then), () => {
      const result = authorize(given, when);
      if (then === 'allowed') {
        assert.deepEqual(result, { ok: true, value: undefined });
        return;
      }
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.code, then.code);
      assert.ok(result.error.message.startsWith(then.message), result.error.message);
    });
  }

  it('a global admin sees every organization, an organization admin its own only', () => {
    assert.equal(maySee(globalAdmin, ORG_B), true);
    assert.equal(maySee(globalAdmin, null), true);
    assert.equal(maySee(adminOfA, ORG_A), true);
    assert.equal(maySee(adminOfA, ORG_B), false);
    assert.equal(maySee(adminOfA, null), false);
  });
});

describe('server scope: which servers a caller may act on', () => {
  const SERVER_1 = '5e7d0000-0000-4000-8000-000000000001';
  const SERVER_2 = '5e7d0000-0000-4000-8000-000000000002';
  const cases: {
    name: string;
    caller: Parameters<typeof serverScopeRule>[0];
    serverId?: string;
    then: ServerScopeRule;
  }[] = [
    {
      name: 'an API key: its own server',
      caller: { apiKeyOf: SERVER_1 },
      then: { kind: 'servers', servers: [SERVER_1] },
    },
    {
      name: 'an API key naming its own server: that server',
      caller: { apiKeyOf: SERVER_1 },
      serverId: SERVER_1,
      then: { kind: 'servers', servers: [SERVER_1] },
    },
    {
      name: 'an API key naming another server: not found',
      caller: { apiKeyOf: SERVER_1 },
      serverId: SERVER_2,
      then: { kind: 'not-found' },
    },
    { name: 'a global admin naming none: all servers', caller: { actor: globalAdmin }, then: { kind: 'all-servers' } },
    {
      name: 'an organization admin naming none: its organization’s servers',
      caller: { actor: adminOfA },
      then: { kind: 'organizations-servers', actor: adminOfA, organizationIds: [ORG_A] },
    },
    {
      name: 'an admin naming a server: that server if it may see it',
      caller: { actor: adminOfA },
      serverId: SERVER_2,
      then: { kind: 'if-visible', actor: adminOfA, serverId: SERVER_2, needed: 'viewer' },
    },
    {
      name: 'a global admin naming a server: that server if it exists',
      caller: { actor: globalAdmin },
      serverId: SERVER_2,
      then: { kind: 'if-visible', actor: globalAdmin, serverId: SERVER_2, needed: 'viewer' },
    },
    {
      name: 'a user naming none: the servers of the organizations it has a role in',
      caller: { actor: userInAandB },
      then: { kind: 'organizations-servers', actor: userInAandB, organizationIds: [ORG_A, ORG_B] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(serverScopeRule(c.caller, c.serverId), c.then));
  }
  it('a user acting (member needed): only the organizations where its role is member or admin', () =>
    assert.deepEqual(serverScopeRule({ actor: userInAandB }, undefined, 'member'), {
      kind: 'organizations-servers',
      actor: userInAandB,
      organizationIds: [ORG_A],
    }));
});

describe('dashboard users: what a role in an organization allows', () => {
  it('is no global admin, though it names no single organization', () => {
    assert.equal(isGlobalAdmin(userInAandB), false);
    assert.deepEqual(authorize(userInAandB, { do: 'create-organization' }), {
      ok: false,
      error: { code: 'FORBIDDEN', message: 'only a global admin can create organizations' },
    });
  });
  it('sees the organizations it has a role in, and no other', () => {
    assert.equal(authorize(userInAandB, { do: 'see-server', organizationId: ORG_B }).ok, true);
    assert.deepEqual(authorize(adminUserOfB, { do: 'see-server', organizationId: ORG_A }), {
      ok: false,
      error: { code: 'NOT_FOUND', message: 'server not found' },
    });
  });
  it('manages servers, domains and credentials as an admin only; a member or viewer is told its role', () => {
    assert.equal(authorize(adminUserOfB, { do: 'manage', organizationId: ORG_B, what: 'server' }).ok, true);
    assert.deepEqual(authorize(userInAandB, { do: 'manage', organizationId: ORG_A, what: 'server' }), {
      ok: false,
      error: { code: 'FORBIDDEN', message: 'your role in this organization (member) cannot change a server' },
    });
    assert.deepEqual(authorize(userInAandB, { do: 'revoke-credential', organizationId: ORG_B }), {
      ok: false,
      error: { code: 'FORBIDDEN', message: 'your role in this organization (viewer) cannot change a credential' },
    });
  });
  it('lists what it may see, or act on', () => {
    assert.deepEqual(visibleOrganizations(userInAandB), [ORG_A, ORG_B]);
    assert.deepEqual(visibleOrganizations(userInAandB, 'member'), [ORG_A]);
    assert.deepEqual(visibleOrganizations(adminOfA, 'admin'), [ORG_A]);
    assert.equal(visibleOrganizations(globalAdmin), null);
  });
});
