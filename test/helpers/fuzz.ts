import fc from 'fast-check';

/**
 * The run settings of a property-based test (test/fuzz/): a bounded number of runs so CI stays
 * fast, a fixed seed so a CI run is repeatable, and both overridable to search longer or to
 * replay a failure (fast-check prints the seed and path of a counterexample; see docs/testing.md):
 *
 * - POSTLOG_FUZZ_RUNS: runs of every property (default: each property's own, chosen to finish in seconds);
 * - POSTLOG_FUZZ_SEED: the seed (default fixed; "random" draws a new one, printed on failure);
 * - POSTLOG_FUZZ_PATH: with the seed, replays exactly the failing case fast-check reported.
 */
export function fuzzRuns<T>(defaultRuns: number): fc.Parameters<T> {
  const runs = Number(process.env.POSTLOG_FUZZ_RUNS ?? defaultRuns);
  const seedText = process.env.POSTLOG_FUZZ_SEED ?? '20261206';
  const path = process.env.POSTLOG_FUZZ_PATH;
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns,
    ...(seedText === 'random' ? {} : { seed: Number(seedText) }),
    ...(path ? { path } : {}),
    // a counterexample is printed whole: it becomes a named regression test
    verbose: 1,
  };
}

/** Line ends as clients send them: CRLF, and the bare CR, bare LF and CR CR LF that readers disagree about. */
export const lineEnd = fc.constantFrom('\r\n', '\r\n', '\n', '\r', '\r\r\n');
