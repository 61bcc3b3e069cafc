import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** More processes than this only add database connections (each has its own pool) and memory. */
export const MAX_AUTO_PROCESSES = 8;

/**
 * CPUs this process may use: the CPUs it may run on, limited by a cgroup CPU quota when there is
 * one (a container started with --cpus=2 on a 16-core host sees 16 CPUs but gets 2).
 */
export function cpuBudget(): number {
  const quota = cgroupCpuQuota();
  const cpus = availableParallelism();
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.round(quota)));
}

/** CPUs' worth of time the cgroup allows, or undefined when unlimited or unknown. */
export function cgroupCpuQuota(read: (path: string) => string | undefined = readOrUndefined): number | undefined {
  // cgroup v2: "max 100000" (unlimited) or "<quota> <period>"
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2.length === 2) {
    const [quota, period] = v2;
    return quota === 'max' ? undefined : positiveRatio(Number(quota), Number(period));
  }
  // cgroup v1: a quota of -1 is unlimited
  const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return quota > 0 ? positiveRatio(quota, period) : undefined;
}

const positiveRatio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? a / b : undefined;

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
