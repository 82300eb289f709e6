export { createApp, type GatewayDeps } from './app.ts';
export { connectServices, type ServiceClients } from './clients.ts';
