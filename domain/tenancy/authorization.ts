import { err, ok, type Result } from '../result.js';
import { type Actor, isGlobalAdmin, mayDo, maySee, roleIn } from './actor.js';
import type { UpdateServer } from './schemas.js';
import { forbidden, notFound, type TenancyError } from './tenancy-error.js';

/**
 * What an actor asks to do with tenancy, with what the rule needs to know of the thing it acts on
 * (the organization it belongs to). Seeing comes first: what an actor may not see is not found.
 */
export type TenancyAction =
  | { do: 'create-organization' }
  | { do: 'delete-organization' }
  | { do: 'see-organization'; organizationId: string }
  | { do: 'see-server'; organizationId: string }
  /** Create, change or remove what an organization's admin manages (servers, domains, credentials). */
  | { do: 'manage'; organizationId: string; what: string }
  | { do: 'update-server'; organizationId: string; changes: UpdateServer }
  | { do: 'add-domain'; organizationId: string; verified: boolean }
  | { do: 'revoke-credential'; organizationId: string }
  | { do: 'create-admin-token'; organizationId: string | null }
  | { do: 'revoke-admin-token'; organizationId: string | null };

/** Suspension, send limits and IP pools are the operator's levers over a tenant, not the tenant's. */
const OPERATOR_LEVERS = ['suspended', 'suspendedReason', 'sendLimitPerHour', 'ipPool'] as const;

/**
 * Who may do what: a global admin anything; an organization's admin what belongs to its
 * organization, except the operator's levers, vouching for a domain and making global admin tokens.
 */
export function authorize(actor: Actor, action: TenancyAction): Result<void, TenancyError> {
  switch (action.do) {
    case 'create-organization':
      return globalAdminOnly(actor, 'only a global admin can create organizations');
    case 'delete-organization':
      return globalAdminOnly(actor, 'only a global admin can delete organizations');
    case 'see-organization':
      return seeing(actor, action.organizationId, 'organization');
    case 'see-server':
      return seeing(actor, action.organizationId, 'server');
    case 'manage':
      return managing(actor, action.organizationId, action.what);
    case 'update-server': {
      const seen = managing(actor, action.organizationId, 'server');
      if (!seen.ok || !OPERATOR_LEVERS.some((lever) => action.changes[lever] !== undefined)) return seen;
      return globalAdminOnly(actor, 'only a global admin can change suspension, send limits or IP pools');
    }
    case 'add-domain': {
      const seen = managing(actor, action.organizationId, 'server');
      // vouching for a domain skips the DNS proof: only an operator (global admin, CLI) may do that
      if (!seen.ok || !action.verified) return seen;
      return globalAdminOnly(
        actor,
        'only a global admin can add a domain as verified; publish the verification record and call verify',
      );
    }
    case 'revoke-credential':
      return managing(actor, action.organizationId, 'credential');
    case 'create-admin-token':
      return action.organizationId === null
        ? globalAdminOnly(actor, 'only a global admin can create a global admin token')
        : managing(actor, action.organizationId, 'organization');
    case 'revoke-admin-token':
      return managing(actor, action.organizationId, 'admin token');
  }
}

function globalAdminOnly(actor: Actor, message: string): Result<void, TenancyError> {
  return isGlobalAdmin(actor) ? ok(undefined) : err(forbidden(message));
}

function seeing(actor: Actor, organizationId: string | null, what: string): Result<void, TenancyError> {
  return maySee(actor, organizationId) ? ok(undefined) : err(notFound(what));
}

/** Seeing it, and the admin role in its organization (a member or viewer is told why not). */
function managing(actor: Actor, organizationId: string | null, what: string): Result<void, TenancyError> {
  const seen = seeing(actor, organizationId, what);
  if (!seen.ok || mayDo(actor, organizationId, 'admin')) return seen;
  return err(forbidden(`your role in this organization (${roleIn(actor, organizationId)}) cannot change a ${what}`));
}
