/**
 * Polls `probe` until it returns a value other than `undefined`, and returns that value; past the
 * deadline it throws with `describe()` — what was last seen — so a failed wait says why.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  describe: () => string,
  { timeoutMs = 20_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
