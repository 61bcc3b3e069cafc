import { createTenant, startTestApp, type Tenant, type TestApp } from './app.js';
import { freeUdpPort, startDnsServer, type DnsServer } from './dns-server.js';
import { freePort } from './ports.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

export interface DeliveringApp {
  t: TestApp;
  /** A tenant whose verified sending domain is sender.test. */
  tenant: Tenant;
  /** Receives the mail of every domain given (their MX is it, through dnsmasq). */
  sink: SmtpSink;
  dns: DnsServer;
  stop(): Promise<void>;
}

/**
 * A running Postlog (API, MTA, projector) whose MTA delivers through a real dnsmasq to one smtp-server sink:
 * what the send API tests (/v2 and every vendor API) need to see the bytes a client's request became.
 */
export async function startDeliveringApp(o: {
  /** The recipient domains the sink answers for (each gets MX mx.<domain> at the sink's address). */
  domains: string[];
  /** Extra configuration of the Postlog under test. */
  env?: Record<string, string>;
  sinkHost?: string;
}): Promise<DeliveringApp> {
  const host = o.sinkHost ?? '127.0.0.2';
  const mtaPort = await freePort();
  const dnsPort = await freeUdpPort();
  const t = await startTestApp({
    POSTLOG_MTA_PORT: String(mtaPort),
    POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    POSTLOG_RETRY_DELAYS: '1',
    POSTLOG_MTA_POLL_MS: '50',
    POSTLOG_ROLES: 'api,mta,projector',
    ...o.env,
  });
  const tenant = await createTenant(t.app, { domain: 'sender.test' });
  const sink = await startSmtpSink(host, mtaPort);
  const dns = await startDnsServer(
    {
      mx: o.domains.map((d) => [d, `mx.${d}`, 10] as [string, string, number]),
      a: o.domains.map((d) => [`mx.${d}`, host] as [string, string]),
      local: ['test'],
    },
    dnsPort,
  );
  return {
    t,
    tenant,
    sink,
    dns,
    async stop() {
      await t.stop();
      await sink.close();
      await dns.stop();
    },
  };
}
