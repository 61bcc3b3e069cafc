/**
 * The webhook events an endpoint can ask for, as the API names them (domain/webhooks). Copied, not
 * imported: the dashboard is a client and ships no server code; test/unit/dashboard-webhook-events
 * fails when the two lists differ.
 */
export const WEBHOOK_EVENTS = [
  'MessageSent',
  'MessageDelayed',
  'MessageDeliveryFailed',
  'MessageHeld',
  'MessageBounced',
  'MessageLinkClicked',
  'MessageLoaded',
  'DomainDNSError',
  'SendLimitApproaching',
  'SendLimitExceeded',
  'MessageUnsubscribed',
  'MessageComplained',
  'MessageCancelled',
  'MessageAutoReplied',
  'MessageReceived',
  'IncomingMessageHeld',
  'IncomingMessageFailed',
  'MessageAccepted',
  'ReputationWarning',
  'SendingPaused',
  'IpListed',
  'IpDelisted',
  'DomainListed',
  'DomainDelisted',
];
