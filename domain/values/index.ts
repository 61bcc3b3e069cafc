export * from './email-address.js';
export * from './message-bytes.js';
export * from './cidr.js';
export * from './mail-date.js';
