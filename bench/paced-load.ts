import http from 'node:http';

/**
 * An open-loop HTTP sender: `ratePerSecond` requests a second whatever the answers' latency, as
 * applications send (a closed loop slows down with the server and hides a queue building up).
 * Requests beyond `maxInFlight` unanswered ones are not sent but counted as `skipped`: the server
 * has fallen behind.
 */
export function pacedLoad(
  target: string,
  ratePerSecond: number,
  request: (i: number) => { path: string; headers: Record<string, string>; body: string },
  isOk: (status: number) => boolean,
  maxInFlight = 512,
) {
  const url = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const started = performance.now();
  let sent = 0;
  let skipped = 0;
  let ok = 0;
  let errors = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  /** Latencies (ms) since the last takeLatencies(). */
  let latencies: number[] = [];
  const send = () => {
    const r = request(sent++);
    inFlight++;
    const t0 = performance.now();
    const done = (status: number, detail: string) => {
      inFlight--;
      latencies.push(performance.now() - t0);
      if (isOk(status)) ok++;
      else {
        errors++;
        firstError ??= `${status} ${detail.slice(0, 300)}`;
      }
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: r.path,
        method: 'POST',
        agent,
        headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => done(res.statusCode ?? 0, data));
      },
    );
    req.on('error', (err) => done(0, err.message));
    req.end(r.body);
  };
  // a tick every 20 ms sends what is due by now: the rate holds even when a tick comes late
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * ratePerSecond) - sent - skipped;
    for (let i = 0; i < due; i++) {
      if (inFlight >= maxInFlight) skipped++;
      else send();
    }
  }, 20);
  return {
    counts: () => ({ sent, ok, errors, skipped, inFlight, ...(firstError ? { firstError } : {}) }),
    /** The latencies since the previous call, sorted. */
    takeLatencies(): number[] {
      const taken = latencies.sort((a, b) => a - b);
      latencies = [];
      return taken;
    },
    /** Stops sending and waits (up to 60 s) for the answers still outstanding. */
    async stop() {
      clearInterval(timer);
      const deadline = Date.now() + 60_000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      agent.destroy();
    },
  };
}
