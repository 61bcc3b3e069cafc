export * from './schemas.js';
export * from './dns-records.js';
export * from './entities.js';
export * from './roles.js';
export * from './actor.js';
export * from './tenancy-error.js';
export * from './authorization.js';
export * from './server-scope.js';
