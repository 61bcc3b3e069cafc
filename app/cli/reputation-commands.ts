import type { Command } from 'commander';
import type pg from 'pg';
import type { Config } from '../../infra/config/index.js';
import { DeliverabilityStore } from '../../infra/deliverability/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { systemClock } from '../../infra/clock/index.js';
import { reputationSettings } from '../../write-side/reputation/reputation-settings.js';
import {
  reputationView,
  resumeSending,
  type ReputationDeps,
  type ReputationView,
} from '../../write-side/reputation/reputation-view.js';
import { idOf, printJson } from './output.js';

type WithEventStore = (work: (store: EventStore, pool: pg.Pool, config: Config) => Promise<void>) => Promise<void>;

/** What `postlog reputation status` prints: per scope the counts, the rates and the state. */
function describe(v: ReputationView): string {
  const lines = [
    `server ${v.serverId}: ${v.paused ? 'PAUSED' : 'sending'} (window ${v.windowHours} h, minimum ${v.minVolume} messages; ` +
      `complaints warn ${v.thresholds.complaint.warnPercent} % pause ${v.thresholds.complaint.pausePercent} %, ` +
      `hard bounces warn ${v.thresholds.hardBounce.warnPercent} % pause ${v.thresholds.hardBounce.pausePercent} %)`,
  ];
  for (const s of v.scopes) {
    const rate = (r: ReputationView['scopes'][number]['complaint']) =>
      `${r.percent} % (${r.count}/${r.volume}${r.counts ? '' : ', too few to count'})`;
    lines.push(
      `  ${(s.domain ?? '(server)').padEnd(30)} complaints ${rate(s.complaint)}  hard bounces ${rate(s.hardBounce)}` +
        (s.paused ? `  PAUSED: ${s.paused.reason}` : s.warned.length > 0 ? `  warned: ${s.warned.join(', ')}` : ''),
    );
  }
  return lines.join('\n');
}

/**
 * `postlog reputation status <server>` and `postlog reputation resume <server> [--domain d]`: what
 * GET /v2/servers/{id}/reputation and POST …/resume do, run by the operator on the machine.
 */
export function registerReputationCommands(program: Command, withEventStore: WithEventStore): void {
  const reputation = program.command('reputation').description('the reputation guard (complaint and bounce rates)');
  const deps = (store: EventStore, pool: pg.Pool, config: Config): ReputationDeps => ({
    pool,
    eventStore: store,
    clock: systemClock,
    settings: reputationSettings(config),
    deliverability: new DeliverabilityStore(pool),
  });
  reputation
    .command('status')
    .description("a server's complaint and hard-bounce rates, per sending domain, and any pause")
    .argument('<server>', 'server id', idOf('the server id', 'a server id'))
    .option('--json', 'print JSON')
    .action(async (serverId: string, opts: { json?: boolean }) =>
      withEventStore(async (store, pool, config) => {
        const view = await reputationView(deps(store, pool, config), serverId);
        if (opts.json) printJson(view);
        else process.stdout.write(`${describe(view)}\n`);
      }),
    );
  reputation
    .command('resume')
    .description('lift the pause of a server and its domains (or of one domain) and release the mail it held')
    .argument('<server>', 'server id', idOf('the server id', 'a server id'))
    .option('--domain <domain>', 'only this sending domain')
    .option('--json', 'print JSON')
    .action(async (serverId: string, opts: { domain?: string; json?: boolean }) =>
      withEventStore(async (store, pool, config) => {
        const d = deps(store, pool, config);
        const done = await resumeSending(d, serverId, opts.domain?.toLowerCase() ?? null, 'cli');
        if (opts.json) return printJson(done);
        process.stdout.write(
          done.resumed.length === 0
            ? 'nothing was paused\n'
            : `resumed ${done.resumed.map((r) => r ?? '(server)').join(', ')}; released ${done.released} held messages\n`,
        );
      }),
    );
}
