import { z } from 'zod';
import { Cidr } from '../values/cidr.js';
import { AllowedSender } from './allowed-senders.js';
import { PostmasterAddress } from './postmaster-address.js';

/** Management API bodies. Types for code come from these schemas. */

const name = z.string().trim().min(1).max(200);

export const CreateOrganization = z.object({ name }).strict();
export const UpdateOrganization = z.object({ name }).partial().strict();

export const ServerMode = z.enum(['live', 'development']);
export const CreateServer = z
  .object({
    name,
    /** development: messages are accepted and held, never delivered. */
    mode: ServerMode.default('live'),
    sendLimitPerHour: z.number().int().positive().nullable().default(null),
    retentionDays: z.number().int().min(1).max(3650).default(30),
    /** Name of an IP pool from the configuration (local addresses to send from). */
    ipPool: z.string().min(1).max(100).nullable().default(null),
  })
  .strict();
export const UpdateServer = z
  .object({
    name,
    mode: ServerMode,
    sendLimitPerHour: z.number().int().positive().nullable(),
    retentionDays: z.number().int().min(1).max(3650),
    suspended: z.boolean(),
    suspendedReason: z.string().max(500).nullable(),
    ipPool: z.string().min(1).max(100).nullable(),
    trackOpens: z.boolean(),
    trackClicks: z.boolean(),
    /** e.g. https://click.example.com, a CNAME to Postlog; null for Postlog's own address. */
    trackingBaseUrl: z.url({ protocol: /^https?$/ }).nullable(),
    trackingExcludedDomains: z.array(z.string().min(1).max(253)).max(500),
    /** One-click unsubscribe headers on every message unless a request turns them off. */
    listUnsubscribe: z.boolean(),
    /** Make a new tracking key; the previous one keeps verifying links already sent. */
    rotateTrackingSecret: z.literal(true),
    /** Privacy mode (Postal's): no client address or host name in the Received header SMTP submission adds. */
    privacyMode: z.boolean(),
    /** Sender header addresses (or whole domains) allowed besides the server's own verified domains. */
    allowedSenders: z.array(AllowedSender).max(500),
    /**
     * The From of mail Postlog sends on the server's behalf (Postal's postmaster address), at a
     * verified domain of the server; null: none set.
     */
    postmasterAddress: PostmasterAddress.nullable(),
    /** Hold accepted messages whose spam score is at or above this (Postal's outbound spam threshold); null: off. */
    outboundSpamThreshold: z.number().min(0).max(10_000).nullable(),
    /** Postal's spam threshold for the server's incoming mail; null: the configured default. */
    spamThreshold: z.number().min(0).max(10_000).nullable(),
    /** Postal's spam failure threshold (refused whatever the route); null: the configured default. */
    spamFailThreshold: z.number().min(0).max(10_000).nullable(),
  })
  .partial()
  .strict();

export const DkimAlgorithm = z.enum(['rsa-2048', 'ed25519']);
export const CreateDomain = z
  .object({
    name: z.string().min(1).max(253),
    /** Mark verified without a DNS check (an administrator vouches for it). */
    verified: z.boolean().default(false),
    /** Also sign with an Ed25519 key (dual signing). */
    ed25519: z.boolean().default(false),
  })
  .strict();

/**
 * A track domain of a sending domain (Postal's track domains): `name` is the label under the
 * sending domain (`click` for click.example.com), whose CNAME points at Postlog's tracking host.
 * https: the links say https:// (the operator serves a certificate for the name); false: http://.
 */
export const CreateTrackDomain = z
  .object({
    name: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be one DNS label, such as click'),
    https: z.boolean().default(true),
  })
  .strict();

/**
 * api: an API key (HTTP); smtp: a username and password (SMTP submission); smtp-ip: a range of
 * client addresses that may submit over SMTP without AUTH (Postal's SMTP-IP credential); ses: an access key id and
 * secret access key for Amazon SES clients, which sign requests with AWS Signature V4.
 */
export const CredentialKind = z.enum(['api', 'smtp', 'smtp-ip', 'ses']);
export const CreateCredential = z
  .object({
    kind: CredentialKind,
    name: name.default('default'),
    /** smtp-ip only: the IPv4 or IPv6 range (CIDR) whose clients may submit without AUTH. */
    cidr: Cidr.optional(),
  })
  .strict()
  .refine((c) => (c.kind === 'smtp-ip') === (c.cidr !== undefined), {
    message: 'a cidr is given with kind smtp-ip, and only with it',
    path: ['cidr'],
  });

export const CreateAdminToken = z
  .object({
    name: name.default('admin'),
    /** Omit for a global admin token (only a global admin may create one). */
    organizationId: z.uuid().nullable().default(null),
  })
  .strict();

export type CreateOrganization = z.infer<typeof CreateOrganization>;
export type CreateServer = z.infer<typeof CreateServer>;
export type UpdateServer = z.infer<typeof UpdateServer>;
export type CreateDomain = z.infer<typeof CreateDomain>;
export type CreateCredential = z.infer<typeof CreateCredential>;
export type CreateTrackDomain = z.infer<typeof CreateTrackDomain>;
export type CreateAdminToken = z.infer<typeof CreateAdminToken>;
export type DkimAlgorithm = z.infer<typeof DkimAlgorithm>;
export type CredentialKind = z.infer<typeof CredentialKind>;
