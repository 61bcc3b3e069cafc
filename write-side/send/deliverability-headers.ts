import { feedbackIdValue, type Server, type ServerDeliverability } from '../../domain/index.js';
import { readMessageHeader } from '../tracking/mime-entities.js';
import { unsubscribeHeaders, type TrackingContext } from '../tracking/personalize.js';

/** Whether the message's own header has a field of this name (lower case). */
export const hasField = (raw: Buffer, name: string): boolean => readMessageHeader(raw).some((f) => f.name === name);

/** The message with these header lines before its own (they are signed with it: DKIM comes later, in the MTA). */
export const withHeaderLines = (raw: Buffer, lines: string[]): Buffer =>
  lines.length === 0 ? raw : Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`), raw]);

/**
 * The Feedback-ID line a server that opted in adds to a message (Gmail's feedback loop reads it
 * to report complaints per campaign), unless the message has one of its own.
 */
export function feedbackIdLine(
  settings: ServerDeliverability,
  server: Server,
  tag: string | undefined,
  raw: Buffer,
): string[] {
  if (!settings.feedbackId || hasField(raw, 'feedback-id')) return [];
  const value = feedbackIdValue(settings.feedbackId, {
    tag,
    serverId: server.id,
    organizationId: server.organizationId,
  });
  return [`Feedback-ID: ${value}`];
}

/** The one-click unsubscribe lines (RFC 8058) of one recipient's copy, as the JSON APIs write them. */
export function listUnsubscribeLines(ctx: TrackingContext, messageId: string): string[] {
  return Object.entries(unsubscribeHeaders(ctx, messageId)).map(([k, v]) => `${k}: ${v}`);
}
