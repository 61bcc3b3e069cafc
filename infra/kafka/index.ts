export { createKafkaClient, type KafkaClientOptions } from './client.js';
