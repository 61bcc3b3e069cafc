/**
 * `npm run bench -- <name>`: runs one benchmark. Each prints progress lines, then one JSON object
 * with what it measured and the targets as its last line.
 */
const benches: Record<string, () => Promise<unknown>> = {
  'event-store': async () => (await import('./event-store.js')).run(),
  'send-api': async () => (await import('./send-api.js')).run(),
  'compat-send': async () => (await import('./compat-send.js')).run(),
  delivery: async () => (await import('./delivery.js')).run(),
  submission: async () => (await import('./submission.js')).run(),
  replay: async () => (await import('./replay.js')).run(),
  tracking: async () => (await import('./tracking.js')).run(),
  webhooks: async () => (await import('./webhooks.js')).run(),
  analytics: async () => (await import('./analytics.js')).run(),
  'clickhouse-ingest': async () => (await import('./clickhouse-ingest.js')).run(),
  stream: async () => (await import('./stream.js')).run(),
  dashboard: async () => (await import('./dashboard.js')).run(),
  'dashboard-load': async () => (await import('./dashboard-load.js')).run(),
  'bounce-corpus': async () => (await import('./bounce-corpus.js')).run(),
  soak: async () => (await import('./soak.js')).run(),
};

const name = process.argv[2];
if (!name || !benches[name]) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}>\n`);
  process.exit(2);
}
const result = await benches[name]!();
process.stdout.write(`${JSON.stringify(result)}\n`);
// a bench whose verdict is one boolean (soak) fails the command when it is not met
process.exit((result as { met?: unknown }).met === false ? 1 : 0);
