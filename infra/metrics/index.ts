export { createMetrics, type Metrics } from './registry.js';
export { registerProcessGauges } from './process-gauges.js';
