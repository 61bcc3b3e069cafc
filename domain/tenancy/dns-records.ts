import { z } from 'zod';

/** A DNS record the domain owner publishes so we may send for the domain. */
export const DnsRecord = z.object({
  purpose: z.enum(['verification', 'spf', 'dkim', 'return-path', 'dmarc']),
  type: z.enum(['TXT', 'CNAME']),
  name: z.string(),
  value: z.string(),
  required: z.boolean(),
  note: z.string(),
});
export type DnsRecord = z.infer<typeof DnsRecord>;

export interface DnsRecordInput {
  domain: string;
  verificationToken: string;
  returnPathSubdomain: string;
  dkim: { selector: string; algorithm: 'rsa-2048' | 'ed25519'; publicKeyB64: string }[];
  /** e.g. spf.postlog.example.com: the SPF record listing our sending IPs. */
  spfInclude: string;
  /** e.g. rp.postlog.example.com: where the return-path subdomain points. */
  returnPathTarget: string;
}

/** The records to publish for a sending domain (pure: computed from its settings). */
export function dnsRecordsFor(input: DnsRecordInput): DnsRecord[] {
  const { domain } = input;
  return [
    {
      purpose: 'verification',
      type: 'TXT',
      name: domain,
      value: `postlog-verification=${input.verificationToken}`,
      required: true,
      note: 'proves you control the domain',
    },
    {
      purpose: 'spf',
      type: 'TXT',
      name: domain,
      value: `v=spf1 a mx include:${input.spfInclude} ~all`,
      required: false,
      note: 'merge the include into an existing SPF record rather than adding a second one',
    },
    ...input.dkim.map((k) => ({
      purpose: 'dkim' as const,
      type: 'TXT' as const,
      name: `${k.selector}._domainkey.${domain}`,
      value: `v=DKIM1; k=${k.algorithm === 'ed25519' ? 'ed25519' : 'rsa'}; p=${k.publicKeyB64}`,
      required: true,
      note: 'signs outgoing mail (DKIM)',
    })),
    {
      purpose: 'return-path',
      type: 'CNAME',
      name: `${input.returnPathSubdomain}.${domain}`,
      value: input.returnPathTarget,
      required: false,
      note: 'bounces come back to Postlog on this per-message return path (VERP)',
    },
    {
      purpose: 'dmarc',
      type: 'TXT',
      name: `_dmarc.${domain}`,
      value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`,
      required: false,
      note: 'a starting policy: move to quarantine or reject once reports look clean',
    },
  ];
}
