import { webhookBody } from '../postal-payloads.js';
import type { Formatter } from './format.js';

/**
 * Postal's body ({event, timestamp, payload, uuid}): what endpoints got before formats, for every
 * event but MessageAccepted (Postal has none; an endpoint of every event is not sent one per message).
 */
export const postalFormat: Formatter = (i) =>
  i.event === 'MessageAccepted' ? undefined : webhookBody(i.event, i.recordedAt, i.payload, i.deliveryId);
