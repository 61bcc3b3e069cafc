export { createHttpServer, type HttpServerDeps } from './server.js';
