/**
 * The message commands the command-handler tests give (test/core, test/integration): one accepted
 * message of server srv-1, and its successful delivery, at a time the test chooses.
 */
export const acceptCommand = (messageId: string, at: string) => ({
  type: 'Accept' as const,
  message: {
    messageId,
    serverId: 'srv-1',
    batchId: 'b-1',
    rfcMessageId: `${messageId}@postlog.test`,
    token: 'AbCdEfGh12345678',
    from: 'a@example.com',
    to: 'b@example.org',
    subject: 'Hi',
    contentHash: 'c'.repeat(64),
    size: 10,
  },
  at,
});

/** A first delivery attempt that the MX accepted. */
export const deliveredAttempt = (at: string) => ({
  attempt: 1,
  mxHost: 'mx.example.org',
  durationMs: 12,
  reply: { code: 250, text: 'OK' },
  at,
});
