/**
 * Versioned schema migrations, applied in order, each in its own transaction. Never edit a
 * migration that has shipped: add a new one. The SQL is in the module that owns each table or
 * function (docs/architecture.md, "Who owns which table"); this list only says what ran when.
 * test/integration/migrations-split.test.ts holds it to the schema the list built when it still
 * held the SQL itself.
 */
import * as accounts from '../accounts/schema.js';
import * as analytics from '../read-models/analytics-schema.js';
import * as blocklists from '../blocklists/schema.js';
import * as checkpoints from '../read-models/checkpoints-schema.js';
import * as messageReadModels from '../read-models/messages-schema.js';
import * as postalImport from '../postal-import/schema.js';
import * as reputation from '../reputation/schema.js';
import * as content from '../content/schema.js';
import * as deliverability from '../deliverability/schema.js';
import * as deliveryQueue from '../delivery-queue/schema.js';
import * as dmarcReports from '../dmarc-reports/schema.js';
import * as eventLog from '../event-store/postgres/schema.js';
import * as sendBookkeeping from '../messages/schema.js';
import * as routes from '../routes/schema.js';
import * as warmup from '../warmup/schema.js';
import * as tenancy from '../tenancy/schema.js';
import * as templates from '../templates/schema.js';
import * as tlsReports from '../tls-reports/schema.js';
import * as mtaSts from '../mta-sts/schema.js';
import * as webhooks from '../webhooks/schema.js';
import type { Migration } from './migration.js';

export const migrations: Migration[] = [
  { version: 1, name: 'event log', sql: eventLog.eventLogTables + eventLog.appendBatchOfMigration1 },
  {
    version: 2,
    name: 'tenancy, content store, send bookkeeping',
    sql:
      tenancy.tenancyTables +
      content.contentsTable +
      content.putContentsFunction +
      sendBookkeeping.sendBookkeepingTables,
  },
  {
    version: 3,
    name: 'projections and the delivery queue',
    sql: checkpoints.projectionCheckpointsTable + deliveryQueue.deliveryQueueTable,
  },
  { version: 4, name: 'sending IP pools per server', sql: tenancy.serverIpPool },
  { version: 5, name: 'read models: messages, deliveries, daily stats', sql: messageReadModels.messageReadModelTables },
  {
    version: 6,
    name: 'retention: content references in the messages read model',
    sql: messageReadModels.messageContentReferences,
  },
  { version: 7, name: 'tracking settings per server', sql: tenancy.serverTrackingSettings },
  { version: 8, name: 'inbound routes to HTTP endpoints', sql: routes.routeTables },
  {
    version: 9,
    name: 'webhooks: endpoints, the outbox with its delivery log, and the signing key',
    sql: webhooks.webhookTables,
  },
  {
    // 10, not 9: main's webhooks branch took 9 (versions need not be contiguous, only unique)
    version: 10,
    name: 'analytics: one row per reported event, and the message dimensions the projection keeps',
    sql: analytics.analyticsTables,
  },
  {
    version: 11,
    name: 'one generic plan for the statements inside postlog_append_batch',
    sql: eventLog.appendBatchGenericPlanOfMigration11,
  },
  {
    version: 12,
    name: 'group commit: a short way for batches that only create streams',
    sql:
      eventLog.appendBatchNameFreed +
      eventLog.appendBatchCheckedFunctionOfMigration12 +
      eventLog.appendBatchFunctionOfMigration12,
  },
  {
    version: 13,
    name: 'delivery queue: leased rows out of the way of the next lease',
    sql:
      deliveryQueue.leaseIndexesOfMigration13 +
      deliveryQueue.leaseFunctionOfMigration14 +
      deliveryQueue.firstDueIndexDropped,
  },
  {
    version: 14,
    name: 'delivery queue: leases after review (due order, no extra locks, delayed releases)',
    sql: deliveryQueue.leaseIndexesSplit + deliveryQueue.leaseFunctionOfMigration14,
  },
  {
    version: 15,
    name: 'contents: bodies stored uncompressed, up to 8 KB in the row',
    sql: content.contentsStorage,
  },
  {
    version: 16,
    name: 'retention: bounded work per run (content release candidates, orphan sweep in created_at order)',
    sql: content.retentionTables + content.putContentsFunction,
  },
  {
    version: 17,
    name: 'retention: contents in created_at order, queue rows and pending route deliveries by content (built concurrently)',
    concurrentIndexes: [
      content.contentsCreatedIndex,
      deliveryQueue.queuedContentIndex,
      routes.pendingRouteContentIndex,
    ],
  },
  {
    version: 18,
    name: 'dashboard accounts: users, their roles per organization, sessions, invitation and reset links',
    sql: accounts.ACCOUNTS_DDL,
  },
  {
    version: 19,
    name: "message list: subject search by trigrams (pg_trgm's GIN index, built concurrently)",
    concurrentIndexes: [messageReadModels.messageSubjectSearchIndex],
  },
  {
    version: 20,
    name: "message list: a finer histogram of subjects (the subject search's plan rests on it)",
    sql: messageReadModels.subjectStatistics,
  },
  {
    version: 21,
    name: 'routes: modes, spam modes, several endpoints each; incoming messages in the message list, spam verdicts',
    sql: routes.routeModesAndEndpoints + messageReadModels.messageDirectionAndSpam,
  },
  {
    version: 22,
    name: "message list: a server's incoming messages by time (built concurrently)",
    concurrentIndexes: [messageReadModels.incomingMessagesIndex],
  },
  {
    version: 23,
    name: 'server-side templates and their versions',
    sql: templates.templateTables,
  },
  {
    version: 24,
    name: 'message list: sender (address or domain) and Message-ID filters (indexes built concurrently)',
    concurrentIndexes: [
      messageReadModels.messageSenderIndex,
      messageReadModels.messageSenderDomainIndex,
      messageReadModels.messageRfcIdIndex,
    ],
  },
  { version: 25, name: 'track domains: tracking links on a sending domain of its own', sql: tenancy.trackDomainsTable },
  {
    version: 26,
    name: 'Postal import: the map of imported ids, SMTP logins checked by password alone',
    sql: postalImport.postalImportMapTable + tenancy.credentialPasswordOnly,
  },
  {
    version: 27,
    name:
      'SMTP submission: sealed SMTP passwords (CRAM-MD5), SMTP-IP credentials; per server privacy mode, ' +
      'allowed senders and postmaster address',
    sql:
      tenancy.smtpSealedSecrets +
      tenancy.smtpIpCredentials +
      tenancy.serverPrivacyMode +
      tenancy.serverAllowedSenders +
      tenancy.serverPostmasterAddress,
  },
  {
    version: 28,
    name: 'domains: the last periodic DNS check (when, its status, what it found)',
    sql: tenancy.domainDnsChecks,
  },
  { version: 29, name: 'outbound spam check: a threshold per server', sql: tenancy.serverOutboundSpamThreshold },
  { version: 30, name: "incoming mail: a server's spam thresholds", sql: tenancy.serverSpamThresholds },
  { version: 31, name: "webhooks: a message's spam verdict", sql: webhooks.messageFactsSpam },
  { version: 32, name: 'credentials: SES access keys (AWS Signature V4)', sql: tenancy.sesCredentials },
  {
    version: 33,
    name: "message list: a send request's messages by batch id (index built concurrently)",
    concurrentIndexes: [messageReadModels.messageBatchIndex],
  },
  {
    version: 34,
    name: 'webhooks: the body format of an endpoint (Postal, Postlog, SendGrid, Mailgun, Postmark, Listmonk)',
    sql: webhooks.endpointFormats,
  },
  { version: 35, name: "webhooks: a message's send request (batch id)", sql: webhooks.messageFactsBatch },
  {
    version: 36,
    name: "Postal import: message history (the map's ids as text: message ids are numbers)",
    sql: postalImport.postalImportMapTextIds,
  },
  {
    version: 37,
    name: 'secrets at rest: DKIM keys, tracking keys, webhook secrets and signing key, TOTP secrets sealed',
    sql: tenancy.tenancySecretsSealed + webhooks.webhookSecretsSealed + accounts.totpSecretsSealed,
  },
  {
    version: 38,
    name: 'TLS-RPT: daily TLS success and failure counts per policy domain',
    sql: tlsReports.tlsReportCountsTable,
  },
  { version: 39, name: "TLS-RPT: DANE's policy type (tlsa)", sql: tlsReports.tlsReportCountsTlsa },
  {
    version: 40,
    name: 'IP warm-up: when each pool address started, and its messages per provider today',
    sql: warmup.warmupTables,
  },
  {
    version: 41,
    name: 'TLS-RPT: the daily reports sent, per policy domain and rua',
    sql: tlsReports.tlsReportsSentTable,
  },
  { version: 42, name: 'MTA-STS: the policy cache kept across restarts', sql: mtaSts.mtaStsPoliciesTable },
  {
    version: 43,
    name: 'reputation guard: complaint and bounce counts per server, sending domain and minute; deliverability settings',
    sql: reputation.reputationTables + deliverability.serverDeliverabilityTable,
  },
  {
    version: 44,
    name: 'DMARC aggregate reports received: reports, their records, and mails that could not be read',
    sql: dmarcReports.dmarcReportTables,
  },
  {
    version: 45,
    name: 'blocklist monitoring: the state of each sending IP and domain per list',
    sql: blocklists.blocklistStatusTable,
  },
  {
    version: 46,
    name: 'event log: commit notifications name the kinds of streams written',
    sql: eventLog.appendBatchCheckedFunction + eventLog.appendBatchFunction,
  },
  {
    version: 47,
    name: "delivery queue: each message's state as folded from the log, so the MTA need not read its stream back",
    sql: deliveryQueue.keptStateColumns + deliveryQueue.leaseFunction,
  },
  {
    version: 48,
    name: "message list: the status filter's own narrow table, so that a delivery's update of rm_messages is HOT",
    sql: messageReadModels.messageStatusTable,
  },
];
