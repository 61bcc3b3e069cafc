import { createHash } from 'node:crypto';
import type { SendingDomain } from '../../domain/index.js';
import type { DeliveryLeases } from '../../mta/mta-worker.js';
import type { LeasedMessage } from '../../mta/queue/delivery-queue.js';

/**
 * The MTA worker's PostgreSQL-backed ports kept in memory, for tests of what the worker decides:
 * the queue's leases, message bodies, sending domains and the suppression list. Each records what
 * the worker did with it.
 */

/** Due messages handed out once each; releases and renewals are recorded. */
export class MemoryLeases implements DeliveryLeases {
  readonly due: LeasedMessage[] = [];
  readonly released: { messageId: string; afterSeconds: number }[] = [];
  readonly renewed: string[] = [];

  async lease(limit: number): Promise<LeasedMessage[]> {
    return this.due.splice(0, limit);
  }

  async release(messageId: string, afterSeconds = 0): Promise<void> {
    this.released.push({ messageId, afterSeconds });
  }

  async renew(messageIds: string[]): Promise<void> {
    this.renewed.push(...messageIds);
  }
}

/** Bodies by SHA-256, as the content store keeps them. */
export class MemoryContents {
  readonly bodies = new Map<string, Buffer>();

  put(body: Buffer): string {
    const hash = createHash('sha256').update(body).digest('hex');
    this.bodies.set(hash, body);
    return hash;
  }

  async getMany(hashes: string[]): Promise<Map<string, Buffer>> {
    return new Map(hashes.flatMap((h) => (this.bodies.has(h) ? [[h, this.bodies.get(h)!] as const] : [])));
  }
}

/** The suppression list's additions, in order. */
export class RecordingSuppressions {
  readonly added: { serverId: string; address: string; reason: string }[] = [];

  async add(serverId: string, address: string, reason: string): Promise<void> {
    this.added.push({ serverId, address, reason });
  }
}

/** Every sending domain verified, with this return-path domain and no DKIM keys. */
export function sendingDomains(returnPathDomain: string) {
  return {
    sendingDomain: async (_serverId: string, name: string): Promise<SendingDomain | undefined> => ({
      id: `domain-${name}`,
      name,
      verified: true,
      returnPathDomain,
      signingKeys: [],
    }),
  };
}
