import type { MessageFacts } from '../postal-payloads.js';
import { bareMessageId, eventFacts, isoOf } from './event-facts.js';
import type { Formatter } from './format.js';

/** Postmark's bounce types this format sends (Postmark's Bounce API, "Bounce types"). */
const bounceTypes = {
  hard: {
    Type: 'HardBounce',
    TypeCode: 1,
    Name: 'Hard bounce',
    Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
  },
  soft: {
    Type: 'SoftBounce',
    TypeCode: 4096,
    Name: 'Soft bounce/Undeliverable',
    Description: 'Unable to temporarily deliver this message.',
  },
  complaint: {
    Type: 'SpamComplaint',
    TypeCode: 512,
    Name: 'Spam complaint',
    Description: 'The subscriber explicitly marked this message as spam.',
  },
} as const;

/**
 * The message's metadata as Postmark's Metadata. A Listmonk campaign id kept under
 * `listmonk-campaign` is also given as X-Listmonk-Campaign, the key Listmonk's Postmark bounce
 * handler reads it from.
 */
function metadataOf(m: MessageFacts): Record<string, string> {
  const metadata = { ...(m.metadata ?? {}) };
  const campaign = metadata['listmonk-campaign'];
  if (campaign !== undefined && metadata['X-Listmonk-Campaign'] === undefined)
    metadata['X-Listmonk-Campaign'] = campaign;
  return metadata;
}

/**
 * Postmark's webhook bodies (RecordType Delivery, Bounce, SpamComplaint, Open, Click,
 * SubscriptionChange), field names as Postmark documents them. Postmark's ServerID and a bounce's
 * ID are numbers: ServerID is 0 (Postlog's servers have UUIDs) and ID is the message's id.
 */
export const postmarkFormat: Formatter = (i) => {
  const m = i.message;
  if (!m) return undefined;
  const f = eventFacts(i);
  const common = { MessageStream: 'outbound', MessageID: bareMessageId(m.rfcMessageId), Tag: m.tag ?? '' };
  const bounce = (kind: keyof typeof bounceTypes, details: string) => ({
    RecordType: kind === 'complaint' ? 'SpamComplaint' : 'Bounce',
    ID: m.messageId,
    ...bounceTypes[kind],
    ...common,
    ServerID: 0,
    Details: details,
    Email: m.to,
    From: m.from,
    BouncedAt: isoOf(f.at),
    DumpAvailable: false,
    Inactive: kind !== 'soft',
    CanActivate: kind !== 'complaint',
    Subject: m.subject,
    Content: '',
    Metadata: metadataOf(m),
  });
  const hit = () => ({
    ...common,
    Metadata: metadataOf(m),
    Recipient: m.to,
    ReceivedAt: isoOf(f.at),
    // user agents are not parsed: Postmark's Platform, OS and Client are not known
    Platform: 'Unknown',
    UserAgent: f.userAgent ?? '',
    OS: { Name: 'Unknown', Family: 'Unknown', Company: 'Unknown' },
    Client: { Name: 'Unknown', Family: 'Unknown', Company: 'Unknown' },
    Geo: { IP: f.ip ?? '' },
  });
  let body: Record<string, unknown>;
  switch (i.event) {
    case 'MessageSent':
      body = {
        RecordType: 'Delivery',
        ServerID: 0,
        ...common,
        Recipient: m.to,
        DeliveredAt: isoOf(f.at),
        Details: f.reply ?? f.details ?? '',
        Metadata: metadataOf(m),
      };
      break;
    case 'MessageBounced':
    case 'MessageDeliveryFailed':
      body = bounce(f.failure?.permanent === false ? 'soft' : 'hard', f.failure?.diagnostic ?? f.details ?? '');
      break;
    case 'MessageComplained':
      body = bounce('complaint', f.feedbackType ? `Feedback type: ${f.feedbackType}` : '');
      break;
    case 'MessageLoaded':
      // every open Postlog records is sent: it does not tell the first one apart here
      body = { RecordType: 'Open', ...hit(), FirstOpen: true, ReadSeconds: 0 };
      break;
    case 'MessageLinkClicked':
      body = { RecordType: 'Click', ...hit(), ClickLocation: 'HTML', OriginalLink: f.url ?? '' };
      break;
    case 'MessageUnsubscribed':
      body = {
        RecordType: 'SubscriptionChange',
        ServerID: 0,
        ...common,
        ChangedAt: isoOf(f.at),
        Recipient: m.to,
        Origin: 'Recipient',
        SuppressSending: true,
        SuppressionReason: 'ManualSuppression',
        Metadata: metadataOf(m),
      };
      break;
    default:
      return undefined;
  }
  return JSON.stringify(body);
};
