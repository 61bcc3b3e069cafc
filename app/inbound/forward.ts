import { parseMailbox, systemActor } from '../../domain/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { randomUUID } from 'node:crypto';
import { acceptMessages, type AcceptDeps } from '../../write-side/send/accept-messages.js';
import { readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';

/**
 * An address endpoint: the incoming message goes out again through our own MTA, from the server it
 * was routed by, with the route's address as the envelope sender (a verified domain of the server,
 * so it is signed and bounces come back to us), the message's own headers unchanged.
 */
export function forwardThroughOwnMta(deps: AcceptDeps & { tenancy: TenancyStore }) {
  return async (serverId: string, routeAddress: string, to: string, raw: Buffer): Promise<string> => {
    const server = await deps.tenancy.getServer(systemActor('route-forward'), serverId);
    if (!server.ok) throw new Error(`server ${serverId} is gone`);
    const from = parseMailbox(routeAddress);
    const recipient = parseMailbox(to);
    if (!from.ok || !recipient.ok) throw new Error(`cannot forward from ${routeAddress} to ${to}`);
    const headers = readSubmittedHeaders(raw);
    const subject = headers.ok ? headers.value.subject : '';
    const rfcMessageId = (headers.ok && headers.value.rfcMessageId) || `${randomUUID()}@${from.value.domain}`;
    const result = await acceptMessages(deps, {
      server: server.value,
      from: from.value,
      contents: [raw],
      messages: [{ to: recipient.value, content: 0, rfcMessageId, subject }],
      source: 'smtp',
      correlationId: `forward-${serverId}`,
      actor: 'route-forward',
      // scanned on its way in (a virus was refused or quarantined there)
      virusScanned: true,
    });
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
    return String(result.value.messages[0]!.id);
  };
}
