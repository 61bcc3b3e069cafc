/**
 * The MTA-STS policy cache kept across restarts (policy-store.ts). The migrations
 * (infra/postgres/migrations-list.ts) run these texts in order; a step here is never edited.
 */

/** Migration 42: the cached policies of recipient domains, one per domain, until they expire. */
export const mtaStsPoliciesTable = `
      CREATE TABLE mta_sts_policies (
        domain      text PRIMARY KEY CHECK (domain = lower(domain)),
        -- the _mta-sts TXT id the policy was fetched for
        policy_id   text NOT NULL,
        -- the policy as served (parsed again when read)
        policy_text text NOT NULL,
        fetched_at  timestamptz NOT NULL,
        expires_at  timestamptz NOT NULL
      );
      CREATE INDEX mta_sts_policies_expiry ON mta_sts_policies (expires_at);
`;
