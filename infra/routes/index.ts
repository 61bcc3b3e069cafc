export {
  RouteStore,
  type NewRouteEndpoint,
  type Route,
  type RouteDelivery,
  type RouteEndpoint,
  type RouteMode,
  type RouteSettings,
  type SpamMode,
} from './route-store.js';
export {
  EndpointQueue,
  emptyEndpointQueue,
  ENDPOINT_DELIVERIES,
  writeEndpointRows,
  type EndpointRowChange,
  type QueuedEndpointDelivery,
} from './endpoint-queue.js';
