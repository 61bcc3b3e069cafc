import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ipPoolsYaml,
  planImport,
  PostalSnapshot,
  type PostalDomain,
  type PostalServer,
} from '../../domain/postal-import/index.js';

const now = new Date('2026-12-01T00:00:00Z');
const options = { now, dkimIdentifier: 'postal' };

const server = (over: Partial<PostalServer> = {}): PostalServer => ({
  id: 10,
  organizationId: 1,
  name: 'Mail',
  permalink: 'mail',
  token: 'abcdef',
  mode: 'Live',
  sendLimit: null,
  messageRetentionDays: 60,
  rawMessageRetentionDays: null,
  rawMessageRetentionSize: null,
  ipPoolId: null,
  suspendedAt: null,
  suspensionReason: null,
  deletedAt: null,
  privacyMode: false,
  logSmtpData: false,
  allowSender: false,
  postmasterAddress: null,
  spamThreshold: 5,
  spamFailureThreshold: null,
  outboundSpamThreshold: null,
  domainsNotToClickTrack: null,
  ...over,
});

const domain = (over: Partial<PostalDomain> = {}): PostalDomain => ({
  id: 20,
  ownerType: 'Server',
  ownerId: 10,
  serverId: 10,
  name: 'Example.com',
  verificationToken: 'tok',
  verificationMethod: 'DNS',
  verifiedAt: new Date('2026-01-01T00:00:00Z'),
  dkimPrivateKey: '-----BEGIN RSA PRIVATE KEY-----\n...',
  dkimIdentifierString: 'QWERTY',
  outgoing: true,
  incoming: true,
  ...over,
});

/** A Postal installation: one organization with one server, plus what a test adds. */
function snapshot(over: Partial<PostalSnapshot> = {}): PostalSnapshot {
  return PostalSnapshot.parse({
    organizations: [
      {
        id: 1,
        name: 'Acme',
        permalink: 'acme',
        ipPoolId: null,
        suspendedAt: null,
        suspensionReason: null,
        deletedAt: null,
      },
    ],
    servers: [server()],
    domains: [],
    credentials: [],
    trackDomains: [],
    httpEndpoints: [],
    routes: [],
    webhooks: [],
    ipPools: [],
    ipPoolRules: [],
    suppressions: [],
    unreadMessageDatabases: [],
    users: 0,
    smtpEndpoints: [],
    addressEndpoints: [],
    ...over,
  });
}

const reasons = (plan: ReturnType<typeof planImport>) => plan.notCarriedOver.map((n) => `${n.what}: ${n.reason}`);

describe('postal import plan: Postal rows → Postlog records', () => {
  it('a server keeps its name, mode, send limit and retention; no track domain means no tracking, as in Postal', () => {
    const plan = planImport(
      snapshot({ servers: [server({ mode: 'Development', sendLimit: 500, messageRetentionDays: 9000 })] }),
      options,
    );
    assert.deepEqual(plan.organizations, [{ postalId: '1', name: 'Acme' }]);
    assert.equal(plan.servers.length, 1);
    const s = plan.servers[0]!;
    assert.equal(s.label, 'acme/mail');
    assert.equal(s.mode, 'development');
    assert.equal(s.sendLimitPerHour, 500);
    assert.equal(s.retentionDays, 3650, "Postlog's longest retention");
    assert.equal(s.trackOpens, false);
    assert.equal(s.trackClicks, false);
    assert.equal(s.trackingBaseUrl, null);
  });

  it('deleted organizations and servers are left out, and said so', () => {
    const plan = planImport(snapshot({ servers: [server({ deletedAt: now })] }), options);
    assert.equal(plan.servers.length, 0);
    assert.ok(reasons(plan).includes('server mail: deleted in Postal'));
  });

  it("a suspended organization's servers are suspended, with the reason", () => {
    const base = snapshot();
    const plan = planImport(
      { ...base, organizations: [{ ...base.organizations[0]!, suspendedAt: now, suspensionReason: 'unpaid' }] },
      options,
    );
    assert.equal(plan.servers[0]!.suspended, true);
    assert.equal(plan.servers[0]!.suspendedReason, 'organization suspended in Postal: unpaid');
  });

  it("a domain keeps Postal's DKIM key under Postal's selector (<dkim_identifier>-<dkim_identifier_string>)", () => {
    const plan = planImport(snapshot({ domains: [domain()] }), { now, dkimIdentifier: 'mail' });
    assert.deepEqual(plan.domains, [
      {
        postalId: '20@10',
        serverPostalId: '10',
        name: 'example.com',
        verifiedAt: new Date('2026-01-01T00:00:00Z'),
        verificationToken: 'tok',
        dkim: { selector: 'mail-QWERTY', privateKeyPem: '-----BEGIN RSA PRIVATE KEY-----\n...' },
      },
    ]);
  });

  it("an organization's domain goes to each of its servers; a receive-only domain is not carried over", () => {
    const plan = planImport(
      snapshot({
        servers: [server(), server({ id: 11, permalink: 'other' })],
        domains: [
          domain({ ownerType: 'Organization', ownerId: 1, serverId: null }),
          domain({ id: 21, name: 'in.example.com', outgoing: false }),
        ],
      }),
      options,
    );
    assert.deepEqual(
      plan.domains.map((d) => d.postalId),
      ['20@10', '20@11'],
    );
    assert.ok(reasons(plan).some((r) => r.startsWith('domain in.example.com: receive-only')));
  });

  it('a domain without a DKIM key gets a new one, and the report says to publish it', () => {
    const plan = planImport(snapshot({ domains: [domain({ dkimPrivateKey: null })] }), options);
    assert.equal(plan.domains[0]!.dkim, null);
    assert.ok(reasons(plan).some((r) => r.includes('publish its record')));
  });

  it('API keys and SMTP passwords keep their secrets; an SMTP-IP range is one, unless too wide', () => {
    const plan = planImport(
      snapshot({
        credentials: [
          { id: 30, serverId: 10, type: 'API', key: 'ApiKey123456789012345678', name: 'app', hold: false },
          { id: 31, serverId: 10, type: 'SMTP', key: 'SmtpPass1234567890123456', name: 'relay', hold: true },
          { id: 32, serverId: 10, type: 'SMTP-IP', key: '10.0.0.0/8', name: 'office', hold: false },
          { id: 33, serverId: 10, type: 'SMTP-IP', key: '0.0.0.0/0', name: 'anyone', hold: false },
          { id: 34, serverId: 10, type: 'SMTP-IP', key: '2001:db8::1', name: 'host', hold: false },
        ],
      }),
      options,
    );
    assert.deepEqual(
      plan.credentials.map((c) => [
        c.postalId,
        c.kind,
        ...(c.kind === 'smtp-ip' ? [c.cidr] : [c.identifier, c.secret]),
      ]),
      [
        ['30', 'api', 'ApiKey', 'ApiKey123456789012345678'],
        ['31', 'smtp', 'acme/mail/31', 'SmtpPass1234567890123456'],
        ['32', 'smtp-ip', '10.0.0.0/8'],
        ['34', 'smtp-ip', '2001:db8::1'],
      ],
    );
    const r = reasons(plan);
    assert.ok(
      r.some((x) => x.startsWith('SMTP-IP credential anyone (acme/mail): 0.0.0.0/0: an IPv4 range may be at most')),
    );
    assert.ok(!r.some((x) => x.startsWith('SMTP-IP credential office')));
    assert.ok(r.some((x) => x.startsWith('"hold" of SMTP credential relay')));
  });

  it("the first track domain becomes the server's tracking address; its loads and clicks settings are kept", () => {
    const track = (id: number, name: string) => ({
      id,
      serverId: 10,
      name,
      domainName: 'example.com',
      sslEnabled: true,
      trackClicks: false,
      trackLoads: true,
      excludedClickDomains: 'a.example\nB.example',
    });
    const plan = planImport(
      snapshot({
        servers: [server({ domainsNotToClickTrack: 'c.example' })],
        trackDomains: [track(2, 'click'), track(1, 'track')],
      }),
      options,
    );
    const s = plan.servers[0]!;
    assert.equal(s.trackingBaseUrl, 'https://track.example.com');
    assert.equal(s.trackOpens, true);
    assert.equal(s.trackClicks, false);
    assert.deepEqual(s.trackingExcludedDomains, ['a.example', 'b.example', 'c.example']);
    assert.ok(reasons(plan).some((r) => r.startsWith('track domain click.example.com of mail')));
  });

  it('routes keep their mode, spam mode and HTTP endpoint (JSON, form, raw); SMTP endpoints are listed with why', () => {
    const route = (id: number, over: object) => ({
      id,
      serverId: 10,
      name: 'support',
      domainName: 'Example.com',
      mode: 'Endpoint',
      endpointType: 'HTTPEndpoint',
      endpointId: 40,
      spamMode: 'Mark',
      additionalEndpoints: [],
      ...over,
    });
    const endpoint = (id: number, over: object) => ({
      id,
      name: 'app',
      url: 'https://app.example/inbound',
      encoding: 'BodyAsJSON',
      format: 'RawMessage',
      stripReplies: false,
      includeAttachments: true,
      timeout: null,
      ...over,
    });
    const plan = planImport(
      snapshot({
        httpEndpoints: [endpoint(40, {}), endpoint(41, { encoding: 'FormData' })],
        routes: [
          route(50, {}),
          route(51, { name: '*', mode: 'Reject' }),
          route(52, { name: 'smtp', endpointType: 'SMTPEndpoint' }),
          route(53, { name: 'form', endpointId: 41 }),
          route(54, { name: 'token', domainName: null }),
        ],
      }),
      options,
    );
    const http = {
      kind: 'http',
      target: 'https://app.example/inbound',
      stripReplies: false,
      includeAttachments: true,
      timeoutSeconds: 30,
    };
    assert.deepEqual(plan.routes, [
      {
        postalId: '50',
        serverPostalId: '10',
        address: 'support@example.com',
        mode: 'endpoint',
        spamMode: 'mark',
        endpoints: [{ ...http, format: 'raw' }],
      },
      {
        postalId: '51',
        serverPostalId: '10',
        address: '*@example.com',
        mode: 'reject',
        spamMode: 'mark',
        endpoints: [],
      },
      {
        postalId: '53',
        serverPostalId: '10',
        address: 'form@example.com',
        mode: 'endpoint',
        spamMode: 'mark',
        endpoints: [{ ...http, format: 'raw' }],
      },
    ]);
    const r = reasons(plan);
    assert.ok(r.some((x) => x.startsWith('route smtp@example.com (acme/mail): its endpoint is SMTPEndpoint')));
    assert.ok(r.some((x) => x.startsWith('route token (acme/mail): it has no domain')));
  });

  it('SMTP and address endpoints, and additional endpoints after the main one, are endpoints of the route', () => {
    const route = (id: number, over: object) => ({
      id,
      serverId: 10,
      name: 'in',
      domainName: 'example.com',
      mode: 'Endpoint',
      endpointType: 'SMTPEndpoint',
      endpointId: 90,
      spamMode: 'Quarantine',
      additionalEndpoints: [],
      ...over,
    });
    const smtp = (id: number, over: object) => ({
      id,
      name: `relay${id}`,
      hostname: 'MX.Example.net',
      sslMode: 'Auto',
      port: null,
      ...over,
    });
    const plan = planImport(
      snapshot({
        httpEndpoints: [
          {
            id: 40,
            name: 'app',
            url: 'https://app.example/in',
            encoding: 'FormData',
            format: 'Hash',
            stripReplies: true,
            includeAttachments: false,
            timeout: 10,
          },
        ],
        smtpEndpoints: [smtp(90, {}), smtp(91, { sslMode: 'TLS', port: 587 }), smtp(92, { port: 465, sslMode: 'TLS' })],
        addressEndpoints: [{ id: 95, address: 'Team@Example.org' }],
        routes: [
          route(50, {
            additionalEndpoints: [
              { endpointType: 'HTTPEndpoint', endpointId: 40 },
              { endpointType: 'AddressEndpoint', endpointId: 95 },
              { endpointType: 'SMTPEndpoint', endpointId: 90 },
              { endpointType: 'SMTPEndpoint', endpointId: 91 },
              { endpointType: 'AddressEndpoint', endpointId: 99 },
              { endpointType: 'SMTPEndpoint', endpointId: 92 },
            ],
          }),
          route(51, { name: 'tls', endpointId: 91 }),
          route(52, { name: 'hold', mode: 'Hold', endpointType: null, endpointId: null }),
        ],
      }),
      options,
    );
    const fixed = { format: 'json', stripReplies: false, includeAttachments: true, timeoutSeconds: 30 };
    assert.deepEqual(plan.routes, [
      {
        postalId: '50',
        serverPostalId: '10',
        address: 'in@example.com',
        mode: 'endpoint',
        spamMode: 'quarantine',
        endpoints: [
          { kind: 'smtp', target: 'mx.example.net:25', ...fixed },
          {
            kind: 'http',
            target: 'https://app.example/in',
            format: 'form',
            stripReplies: true,
            includeAttachments: false,
            timeoutSeconds: 10,
          },
          { kind: 'address', target: 'Team@Example.org', ...fixed },
          { kind: 'smtp', target: 'mx.example.net:465', ...fixed },
        ],
      },
      {
        postalId: '52',
        serverPostalId: '10',
        address: 'hold@example.com',
        mode: 'hold',
        spamMode: 'quarantine',
        endpoints: [],
      },
    ]);
    const r = reasons(plan);
    assert.ok(
      r.includes(
        'additional endpoint SMTPEndpoint 91 of route in@example.com (acme/mail): SMTPEndpoint relay91 (MX.Example.net:587): Postlog uses implicit TLS on port 465 only',
      ),
      JSON.stringify(r),
    );
    assert.ok(r.some((x) => x.startsWith('additional endpoint AddressEndpoint 99 of route in@example.com')));
    assert.ok(r.some((x) => x.startsWith('route tls@example.com (acme/mail): its endpoint is SMTPEndpoint relay91')));
  });

  it("a server's privacy mode, spam thresholds, postmaster address and raw message retention are kept", () => {
    const plan = planImport(
      snapshot({
        servers: [
          server({
            privacyMode: true,
            spamThreshold: 5.5,
            spamFailureThreshold: 20,
            outboundSpamThreshold: 7,
            postmasterAddress: 'Postmaster@Example.COM',
            rawMessageRetentionDays: 14,
            rawMessageRetentionSize: 2048,
            allowSender: true,
            logSmtpData: true,
          }),
          server({
            id: 11,
            permalink: 'other',
            spamThreshold: -1,
            spamFailureThreshold: null,
            postmasterAddress: 'not an address',
            messageRetentionDays: null,
          }),
        ],
      }),
      options,
    );
    const [a, b] = plan.servers;
    assert.deepEqual(
      [a!.privacyMode, a!.spamThreshold, a!.spamFailThreshold, a!.outboundSpamThreshold, a!.postmasterAddress],
      [true, 5.5, 20, 7, 'Postmaster@example.com'],
    );
    assert.equal(a!.retentionDays, 14, "Postal's raw message retention is Postlog's body retention");
    assert.deepEqual(
      [b!.privacyMode, b!.spamThreshold, b!.spamFailThreshold, b!.outboundSpamThreshold, b!.postmasterAddress],
      [false, null, null, null, null],
    );
    assert.equal(b!.retentionDays, 3650, 'Postal kept its bodies for ever');
    const r = reasons(plan);
    for (const start of [
      'raw message retention size (2048 MB) of acme/mail: ',
      'message retention (60 days) of acme/mail: ',
      '"allow sender" of acme/mail: ',
      'SMTP data logging of acme/mail: ',
      'spam threshold of acme/other (-1): ',
      'postmaster address not an address of acme/other: not an address',
    ])
      assert.ok(
        r.some((x) => x.startsWith(start)),
        `${start} in ${JSON.stringify(r)}`,
      );
    assert.ok(!r.some((x) => x.startsWith('privacy mode')));
  });

  it('webhooks keep url, events and enabled; all events is every event', () => {
    const plan = planImport(
      snapshot({
        webhooks: [
          {
            id: 60,
            serverId: 10,
            name: 'hook',
            url: 'https://h.example/a',
            allEvents: false,
            enabled: false,
            sign: true,
            events: ['MessageSent', 'DomainDNSError', 'ServerSuspended'],
          },
          {
            id: 61,
            serverId: 10,
            name: null,
            url: 'https://h.example/b',
            allEvents: true,
            enabled: true,
            sign: false,
            events: [],
          },
        ],
      }),
      options,
    );
    assert.deepEqual(
      plan.webhooks.map((w) => [w.url, w.events, w.enabled, w.description]),
      [
        ['https://h.example/a', ['MessageSent', 'DomainDNSError'], false, 'hook'],
        ['https://h.example/b', null, true, ''],
      ],
    );
    assert.ok(reasons(plan).some((x) => x.startsWith('events ServerSuspended of webhook https://h.example/a')));
  });

  it('IP pools become configuration; each server names its pool (its own, else its organization’s)', () => {
    const base = snapshot({
      servers: [server(), server({ id: 11, permalink: 'own', ipPoolId: 71 })],
      ipPools: [
        {
          id: 70,
          name: 'Main Pool',
          isDefault: true,
          addresses: [
            { ipv4: '192.0.2.10', ipv6: '2001:db8::10', hostname: 'mx1.example.com', priority: 50 },
            { ipv4: '192.0.2.11', ipv6: null, hostname: null, priority: 0 },
          ],
        },
        {
          id: 71,
          name: 'v6 only',
          isDefault: false,
          addresses: [{ ipv4: null, ipv6: '2001:db8::1', hostname: null, priority: 1 }],
        },
      ],
      ipPoolRules: [{ id: 80, ownerType: 'Server', ownerId: 10, ipPoolId: 70, fromText: null, toText: 'gmail.com' }],
    });
    const plan = planImport({ ...base, organizations: [{ ...base.organizations[0]!, ipPoolId: 70 }] }, options);
    assert.deepEqual(
      plan.servers.map((s) => s.ipPool),
      ['main-pool', null],
    );
    assert.equal(
      ipPoolsYaml(plan.ipPools),
      'ipPools:\n  main-pool: # Postal\'s "Main Pool"\n    - address: 192.0.2.10\n      ehlo: mx1.example.com\n' +
        '      weight: 50\n    - address: 192.0.2.11\n      weight: 1\n',
    );
    const r = reasons(plan);
    assert.ok(r.some((x) => x.startsWith('IP pool v6 only: it has no IPv4 address')));
    assert.ok(r.some((x) => x.startsWith('IP pool rule 80')));
  });

  it('suppressions that still hold are kept for the days they have left; expired ones are dropped', () => {
    const plan = planImport(
      snapshot({
        suppressions: [
          {
            serverId: 10,
            type: 'recipient',
            address: 'Gone@Example.org',
            reason: 'hard fail',
            keepUntil: new Date('2026-12-10T12:00:00Z'),
          },
          {
            serverId: 10,
            type: 'recipient',
            address: 'old@example.org',
            reason: null,
            keepUntil: new Date('2026-11-01T00:00:00Z'),
          },
        ],
        unreadMessageDatabases: [{ serverId: 10, reason: "Unknown database 'postal-server-10'" }],
        users: 3,
      }),
      options,
    );
    assert.deepEqual(plan.suppressions, [
      { serverPostalId: '10', address: 'gone@example.org', reason: 'hard fail', days: 10 },
    ]);
    const r = reasons(plan);
    assert.ok(r.some((x) => x.startsWith('suppression list of acme/mail: its message database could not be read')));
    assert.ok(r.some((x) => x.startsWith('3 dashboard users: ')));
  });
});
