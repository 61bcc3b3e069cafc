import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import { heapUsedAfterMajorGc } from './heap-after-gc.js';

/**
 * This process's memory and event-loop delay, labelled with its name (web.1, worker, supervisor…).
 * prom-client's own figures (postlog_process_resident_memory_bytes, postlog_nodejs_eventloop_lag_*)
 * are summed or averaged over the processes when the supervisor aggregates /metrics, so a leak or a
 * stalled loop in one process hides in them; with a label of its own each process stays apart
 * ('sum' of one value per label is that value).
 */
export function registerProcessGauges(registry: Registry, processName: string): void {
  heapUsedAfterMajorGc(); // starts watching the GCs now, not at the first scrape
  new Gauge({
    name: 'postlog_process_memory_bytes',
    help:
      'Memory of each Postlog process: rss, heap_used (JS heap now, garbage included), heap_after_gc ' +
      '(JS heap just after the last major GC: the live objects), external, array_buffers (Buffers)',
    labelNames: ['process', 'kind'],
    aggregator: 'sum',
    registers: [registry],
    collect() {
      const m = process.memoryUsage();
      this.set({ process: processName, kind: 'rss' }, m.rss);
      this.set({ process: processName, kind: 'heap_used' }, m.heapUsed);
      this.set({ process: processName, kind: 'external' }, m.external);
      this.set({ process: processName, kind: 'array_buffers' }, m.arrayBuffers);
      const afterGc = heapUsedAfterMajorGc();
      if (afterGc !== undefined) this.set({ process: processName, kind: 'heap_after_gc' }, afterGc);
    },
  });
  // since the previous scrape, as prom-client's own lag figures: each scrape starts a new window
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  new Gauge({
    name: 'postlog_process_event_loop_delay_seconds',
    help: "Each Postlog process's event-loop delay since the previous scrape, by quantile (0.5, 0.99, 1 = max)",
    labelNames: ['process', 'quantile'],
    aggregator: 'sum',
    registers: [registry],
    collect() {
      // the histogram records in nanoseconds; before its first sample it reports huge minima
      const seconds = (ns: number) => (delay.count > 0 ? ns / 1e9 : 0);
      this.set({ process: processName, quantile: '0.5' }, seconds(delay.percentile(50)));
      this.set({ process: processName, quantile: '0.99' }, seconds(delay.percentile(99)));
      this.set({ process: processName, quantile: '1' }, seconds(delay.max));
      delay.reset();
    },
  });
}
