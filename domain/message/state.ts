/** Where a message is in its lifecycle. */
export type MessageStatus =
  | 'none'
  | 'accepted'
  | 'held'
  | 'released'
  | 'queued'
  | 'deferred'
  | 'delivered'
  | 'bounced'
  | 'failed'
  | 'cancelled';

export interface MessageState {
  status: MessageStatus;
  messageId?: string;
  serverId?: string;
  /** What the delivery queue holds of the message (from MessageAccepted): a redelivery puts it back. */
  envelope?: { from: string; to: string; token: string; contentHash: string };
  /** How its TLS is chosen (MessageAccepted): REQUIRETLS, or `TLS-Required: No` (RFC 8689). */
  requireTls?: boolean;
  tlsOptional?: boolean;
  /** Not before this time (scheduled sending); survives a hold. */
  scheduledAt?: string;
  /** Why it is held, while it is. */
  heldReason?: string;
  /** Delivery attempts made so far. */
  attempts: number;
  /** The message reached the recipient's server at some point (engagement is possible). */
  delivered: boolean;
  deliveredAt?: string;
  /** A late bounce (DSN) arrived after delivery. */
  bouncedAfterDelivery: boolean;
  unsubscribed: boolean;
  complained: boolean;
  /** The raw content is gone (retention); the events remain. */
  contentExpired: boolean;
  opens: number;
  clicks: number;
  /** Imported from another system's history (MessageImported): read-only, never delivered by Postlog. */
  imported: boolean;
}

/**
 * The shape of MessageState, for states kept outside the log (the delivery queue keeps each queued
 * message's state so that the MTA need not read its stream back): bump it when MessageState
 * changes, and a state kept by an older version is not used (the stream is read instead).
 */
export const MESSAGE_STATE_VERSION = 1;

export const initialState = (): MessageState => ({
  status: 'none',
  attempts: 0,
  delivered: false,
  bouncedAfterDelivery: false,
  unsubscribed: false,
  complained: false,
  contentExpired: false,
  opens: 0,
  clicks: 0,
  imported: false,
});

export const finalStatuses: ReadonlySet<MessageStatus> = new Set(['delivered', 'bounced', 'failed', 'cancelled']);
