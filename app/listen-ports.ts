import net from 'node:net';
import type { Config } from '../infra/config/index.js';

/** A port this process listens on: what for, where, and the settings that move it. */
export interface PlannedListener {
  what: 'HTTP' | 'SMTP';
  host: string;
  port: number;
  portSetting: string;
  hostSetting: string;
}

/** The ports a process with these roles listens on: HTTP always, SMTP for the smtp and inbound roles. */
export function plannedListeners(config: Config): PlannedListener[] {
  const smtp = (port: number, portSetting: string): PlannedListener => ({
    what: 'SMTP',
    host: config.smtpHost,
    port,
    portSetting,
    hostSetting: 'POSTLOG_SMTP_HOST',
  });
  return [
    {
      what: 'HTTP',
      host: config.httpHost,
      port: config.httpPort,
      portSetting: 'POSTLOG_HTTP_PORT',
      hostSetting: 'POSTLOG_HTTP_HOST',
    },
    ...(config.roles.includes('smtp')
      ? [
          smtp(config.submissionPort, 'POSTLOG_SUBMISSION_PORT'),
          smtp(config.submissionTlsPort, 'POSTLOG_SUBMISSION_TLS_PORT'),
        ]
      : []),
    ...(config.roles.includes('inbound') ? [smtp(config.inboundPort, 'POSTLOG_INBOUND_PORT')] : []),
  ];
}

/** Why a listener could not listen, saying what to change; the error itself when it is none of these. */
export function listenProblem(listener: PlannedListener, err: NodeJS.ErrnoException): string {
  const { what, host, port, portSetting, hostSetting } = listener;
  if (err.code === 'EADDRINUSE') return `${what} port ${port} is in use: set ${portSetting} to a free port`;
  if (err.code === 'EACCES')
    return `no permission to listen on port ${port}: use a port above 1023 or grant the capability (${portSetting})`;
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
    return `${what} cannot listen on ${host}: it is no address of this machine (${hostSetting})`;
  return `${what} cannot listen on ${host}:${port}: ${err.message}`;
}

/** Listeners that cannot listen, all of them: an operator fixes every port at once, not one per start. */
export class PortsUnavailable extends Error {
  readonly code = 'PORTS_UNAVAILABLE';
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1 ? problems[0] : `${problems.length} ports cannot be listened on: ${problems.join('; ')}`,
    );
  }
}

/** Whether a port can be listened on now: a probe that listens and closes at once. */
function probe(listener: PlannedListener): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(listenProblem(listener, err)));
    server.listen(listener.port, listener.host, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Before anything starts: a port given to two listeners, and (with `probe`) every port that is
 * taken, all at once (PortsUnavailable), instead of one per attempt and after the database started.
 * The supervisor probes every process's ports before it starts any. Not probed in a process the
 * supervisor started: its listens go through the cluster primary, where a probe would join the port
 * another process of this Postlog serves, and be handed connections that nobody would answer. Those
 * processes rely on start-up trying every listener and reporting all that failed (startPostlog).
 */
export async function checkListenPorts(
  listeners: readonly PlannedListener[],
  options: { probe: boolean },
): Promise<void> {
  const problems: string[] = [];
  const byPort = new Map<number, PlannedListener[]>();
  for (const l of listeners) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const [port, same] of byPort)
    if (same.length > 1) problems.push(`port ${port} is set for ${same.map((l) => l.portSetting).join(' and ')}`);
  if (options.probe) {
    const probed = await Promise.all([...byPort.values()].map((same) => probe(same[0]!)));
    problems.push(...probed.filter((p): p is string => p !== undefined));
  }
  if (problems.length > 0) throw new PortsUnavailable(problems);
}
