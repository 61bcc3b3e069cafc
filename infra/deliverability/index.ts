export { DeliverabilityStore } from './server-deliverability.js';
