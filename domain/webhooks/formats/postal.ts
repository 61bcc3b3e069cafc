import { webhookBody } from '../postal-payloads.js';
import type { Formatter } from './format.js';

/** Postal's body ({event, timestamp, payload, uuid}), for every event: what endpoints got before formats. */
export const postalFormat: Formatter = (i) => webhookBody(i.event, i.recordedAt, i.payload, i.deliveryId);
