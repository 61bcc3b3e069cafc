import { createHash } from 'node:crypto';
import { sigV4Signature } from '../infra/http/aws-sigv4.js';
import { closedLoop, startPostlogForBench, type LoadResult } from './support.js';

/**
 * Accepted messages per second of each vendor-compatible send API against POST /v2/messages, on one running
 * Postlog (API role), with the same 3 KB single-recipient message. The target: each within 20 % of /v2 (ratio
 * ≥ 0.8). The machine is shared and noisy, so the endpoints take turns: BENCH_ROUNDS rounds (default 3) of
 * BENCH_SECONDS each (default 5); each round's ratio is against that round's /v2, and the median ratio counts.
 * One Node load generator for all (it signs SES requests with SigV4, which wrk cannot), with each round's
 * requests made before it starts, so that it shares the cores equally with every endpoint.
 */
interface Credentials {
  apiKey: string;
  sesKeyId: string;
  sesSecret: string;
  host: string;
}

interface Endpoint {
  name: string;
  okStatus: number;
  request: (i: number, c: Credentials) => { path: string; headers: Record<string, string>; body: string };
}

/** Distinct requests per endpoint and round (recipients rcpt0 … rcpt999 at example0 … example9). */
const BODIES = 1000;

const text = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(53).slice(0, 3000);

const ENDPOINTS: Endpoint[] = [
  {
    name: 'v2',
    okStatus: 202,
    request: (i, c) => ({
      path: '/v2/messages',
      headers: { 'content-type': 'application/json', 'x-server-api-key': c.apiKey },
      body: JSON.stringify({
        from: 'Bench <bench@bench.test>',
        to: [`rcpt${i}@example${i % 10}.org`],
        subject: `M ${i}`,
        text,
      }),
    }),
  },
  {
    name: 'postmark',
    okStatus: 200,
    request: (i, c) => ({
      path: '/email',
      headers: { 'content-type': 'application/json', 'x-postmark-server-token': c.apiKey },
      body: JSON.stringify({
        From: 'Bench <bench@bench.test>',
        To: `rcpt${i}@example${i % 10}.org`,
        Subject: `M ${i}`,
        TextBody: text,
      }),
    }),
  },
  {
    name: 'sendgrid',
    okStatus: 202,
    request: (i, c) => ({
      path: '/v3/mail/send',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${c.apiKey}` },
      body: JSON.stringify({
        personalizations: [{ to: [{ email: `rcpt${i}@example${i % 10}.org` }] }],
        from: { email: 'bench@bench.test', name: 'Bench' },
        subject: `M ${i}`,
        content: [{ type: 'text/plain', value: text }],
      }),
    }),
  },
  {
    name: 'mailgun',
    okStatus: 200,
    request: (i, c) => ({
      path: '/v3/bench.test/messages',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`api:${c.apiKey}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        from: 'Bench <bench@bench.test>',
        to: `rcpt${i}@example${i % 10}.org`,
        subject: `M ${i}`,
        text,
      }).toString(),
    }),
  },
  {
    name: 'ses',
    okStatus: 200,
    request: (i, c) => {
      const body = JSON.stringify({
        FromEmailAddress: 'Bench <bench@bench.test>',
        Destination: { ToAddresses: [`rcpt${i}@example${i % 10}.org`] },
        Content: { Simple: { Subject: { Data: `M ${i}` }, Body: { Text: { Data: text } } } },
      });
      return { path: '/v2/email/outbound-emails', headers: sesHeaders(body, c), body };
    },
  },
];

/** The headers an AWS SDK sends with a SigV4-signed SendEmail. */
function sesHeaders(body: string, c: Credentials): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    host: c.host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
  };
  const scope = {
    date: amzDate.slice(0, 8),
    region: 'eu-west-1',
    service: 'ses',
    signedHeaders: Object.keys(headers).sort(),
  };
  const request = { method: 'POST', path: '/v2/email/outbound-emails', query: '', headers, body: Buffer.from(body) };
  const signature = sigV4Signature(request, scope, c.sesSecret, amzDate);
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${c.sesKeyId}/${scope.date}/eu-west-1/ses/aws4_request, ` +
    `SignedHeaders=${scope.signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 10);
  const concurrency = 64;
  const postlog = await startPostlogForBench({ POSTLOG_ROLES: 'api' });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const ses = JSON.parse(
      await postlog.cli(['credential', 'create', '--server', init.serverId, '--kind', 'ses', '--json']),
    ) as { accessKeyId: string; secretAccessKey: string };
    const c: Credentials = {
      apiKey: init.apiKey,
      sesKeyId: ses.accessKeyId,
      sesSecret: ses.secretAccessKey,
      host: new URL(postlog.url).host,
    };
    // Each endpoint's requests are made once per round (BODIES of them, used in turn): the one load generator
    // shares the cores with Postlog, and building (for SES: signing) a request in it must not weigh on one
    // endpoint's figure more than another's. A SigV4 signature holds for 15 minutes, a round for seconds.
    const load = (e: Endpoint, secs: number): Promise<LoadResult> => {
      const requests = Array.from({ length: BODIES }, (_, i) => e.request(i, c));
      return closedLoop(
        postlog.url,
        concurrency,
        secs,
        (i) => requests[i % BODIES]!,
        (status) => status === e.okStatus,
      );
    };
    // every endpoint warmed: each has its own code paths for V8 to compile
    for (const e of ENDPOINTS) await load(e, warmUpSeconds / ENDPOINTS.length);
    const results = new Map<string, LoadResult[]>(ENDPOINTS.map((e) => [e.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const e of ENDPOINTS) {
        const result = await load(e, seconds);
        results.get(e.name)!.push(result);
        process.stderr.write(
          `round ${r + 1} ${e.name}: ${result.perSecond} accepted/s, p99 ${result.p99Ms} ms, errors ${result.errors}` +
            `${result.firstError ? ` (${result.firstError})` : ''}\n`,
        );
      }
    }
    const v2 = results.get('v2')!;
    const figures = Object.fromEntries(
      ENDPOINTS.map((e) => {
        const runs = results.get(e.name)!;
        const ratios = runs.map((x, i) => x.perSecond / Math.max(1, v2[i]!.perSecond));
        return [
          e.name,
          {
            acceptedPerSecond: median(runs.map((x) => x.perSecond)),
            acceptedPerSecondRuns: runs.map((x) => x.perSecond),
            p99Ms: median(runs.map((x) => x.p99Ms)),
            errors: runs.reduce((n, x) => n + x.errors, 0),
            ratio: Math.round(median(ratios) * 100) / 100,
            ratioRuns: ratios.map((x) => Math.round(x * 100) / 100),
          },
        ];
      }),
    );
    const vendors = ENDPOINTS.filter((e) => e.name !== 'v2').map((e) => e.name);
    return {
      bench: 'compat-send',
      concurrency,
      messageBytes: 3000,
      rounds,
      secondsPerRun: seconds,
      loadGenerator: 'node',
      endpoints: figures,
      ratio: Object.fromEntries(vendors.map((v) => [v, figures[v]!.ratio])),
      targets: { ratioAtLeast: 0.8 },
      met: Object.fromEntries(vendors.map((v) => [v, figures[v]!.ratio >= 0.8 && figures[v]!.errors === 0])),
    };
  } finally {
    await postlog.stop();
  }
}
