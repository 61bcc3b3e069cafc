import type { AdminTokenInfo, Credential, Domain, Organization, Server } from '../../domain/index.js';
import { record } from './output.js';

/**
 * The human form of what a command created or changed: the record's fields a person needs, a
 * secret with the warning that it is shown once, and the next command to run. --json prints the
 * record itself instead (main.ts).
 */

export const organizationCreated = (o: Organization): string =>
  record(`Created organization ${o.name}`, [['id', o.id]], [`Next: postlog server create <name> --org ${o.id}`]);

export const serverCreated = (s: Server): string =>
  record(
    `Created ${s.mode} server ${s.name}`,
    [
      ['id', s.id],
      ['organization', s.organizationId],
      ['send limit', s.sendLimitPerHour === null ? 'none' : `${s.sendLimitPerHour} messages per hour`],
      ['retention', `${s.retentionDays} days`],
    ],
    [
      `Next: an API key (postlog credential create --server ${s.id}) and a sending domain ` +
        `(postlog domain add <domain> --server ${s.id})`,
    ],
  );

export const serverSuspension = (s: Server): string =>
  s.suspended
    ? `Suspended server ${s.name} (${s.id})${s.suspendedReason ? `: ${s.suspendedReason}` : ''}; ` +
      'its API keys and SMTP logins are refused\n'
    : `Server ${s.name} (${s.id}) is not suspended: its API keys and SMTP logins work\n`;

export const credentialCreated = (c: Credential, secret: string): string =>
  c.kind === 'smtp-ip'
    ? record(
        `Created SMTP-IP credential ${c.name} for server ${c.serverId}`,
        [
          ['id', c.id],
          ['range', c.identifier],
        ],
        ["Clients in this range submit over SMTP without AUTH; the From header must still be the server's domain."],
      )
    : c.kind === 'ses'
      ? record(
          `Created SES access key ${c.name} for server ${c.serverId}`,
          [
            ['id', c.id],
            ['access key id', c.identifier],
            ['secret access key', secret],
          ],
          [
            'The secret is shown once: keep it. Give both to an AWS SDK SESv2 client with endpoint set to Postlog ' +
              '(docs/ses.md).',
          ],
        )
      : c.kind === 'api'
        ? record(
            `Created API key ${c.name} for server ${c.serverId}`,
            [
              ['id', c.id],
              ['API key', secret],
            ],
            ['The key is shown once: keep it. Send it as the X-Server-API-Key header.'],
          )
        : record(
            `Created SMTP login ${c.name} for server ${c.serverId}`,
            [
              ['id', c.id],
              ['username', c.identifier],
              ['password', secret],
            ],
            ['The password is shown once: keep it. Log in with it on SMTP submission (AUTH after STARTTLS).'],
          );

export const adminTokenCreated = (t: AdminTokenInfo, secret: string): string =>
  record(
    `Created admin token ${t.name} (${t.organizationId ? `for organization ${t.organizationId}` : 'global'})`,
    [
      ['id', t.id],
      ['token', secret],
    ],
    ['The token is shown once: keep it. Send it as: Authorization: Bearer <token>'],
  );

/** The DNS records a domain needs, one block per record. */
export const dnsRecords = (d: Domain): string =>
  d.dnsRecords
    .map(
      (r) =>
        `  ${r.type.padEnd(5)} ${r.name}\n        ${r.value}\n` +
        `        (${r.required ? 'required' : 'recommended'}: ${r.note})\n`,
    )
    .join('');

export const dkimRotated = (d: Domain): string =>
  `${d.name} signs with DKIM selector ${d.dkimKeys
    .filter((k) => k.active)
    .map((k) => k.selector)
    .join(', ')} from now on. ` +
  'Publish these DNS records (the old key stays published until you remove it):\n' +
  dnsRecords(d);
