export * from './bounce-rules.js';
export * from './bounce-classification.js';
export * from './bounce-report-verdict.js';
export * from './retry-schedule.js';
export * from './reports.js';
export * from './machine-detection.js';
export * from './mailbox-provider.js';
export * from './mta-sts.js';
