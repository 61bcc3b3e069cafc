export * from './dmarc-events.js';
export * from './dmarc-xml.js';
