import { apiRole } from './api.js';
import { graphqlRole } from './graphql.js';
import { inboundRole } from './inbound.js';
import { mtaRole } from './mta.js';
import { projectorRole } from './projector.js';
import type { Role } from './role.js';
import { smtpRole } from './smtp.js';
import { trackingRole } from './tracking.js';

export type { Role, RoleName, RoleSetUp } from './role.js';

/**
 * Every role, in the order start-up sets them up (the stop stack stops what they built in reverse: the
 * analytics store outlives the projections, which outlive the MTA and the dispatchers, which
 * outlive the tracking recorder, which outlives the HTTP listener; SMTP listeners open last and
 * close first; the background work they start stops right after the listeners).
 */
export const roles: Role[] = [graphqlRole, projectorRole, mtaRole, inboundRole, trackingRole, apiRole, smtpRole];
