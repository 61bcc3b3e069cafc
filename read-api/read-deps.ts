import type { ContentStore } from '../infra/content/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import type { Authenticator } from '../infra/http/auth.js';
import type { TenancyStore } from '../infra/tenancy/index.js';

export interface ReadApiDeps {
  eventStore: EventStore;
  contents: ContentStore;
  auth: Authenticator;
  tenancy: TenancyStore;
}
