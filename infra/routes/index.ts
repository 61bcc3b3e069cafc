export { RouteStore, type Route, type RouteDelivery } from './route-store.js';
