import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

const MAJOR = constants.NODE_PERFORMANCE_GC_MAJOR;
let afterMajorGc: number | undefined;
let observing = false;

/**
 * The JS heap in use just after the most recent major (mark-sweep-compact) GC: the live objects and
 * little garbage, where heapUsed at a random moment also counts whatever awaits the next GC. A leak of
 * JS objects makes this rise; V8's sawtooth does not. One observer per process (tests create several
 * registries in one process; an observer holds no handle, so it keeps no process alive); undefined until
 * the first major GC.
 */
export function heapUsedAfterMajorGc(): number | undefined {
  if (!observing) {
    observing = true;
    const observer = new PerformanceObserver((list) => {
      const major = list
        .getEntries()
        .some((e: PerformanceEntry & { detail?: { kind?: number } }) => e.detail?.kind === MAJOR);
      // the callback runs soon after the GC, before much is allocated again
      if (major) afterMajorGc = process.memoryUsage().heapUsed;
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  return afterMajorGc;
}
