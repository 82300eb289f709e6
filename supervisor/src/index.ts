export { findNatsServer, type NatsServerHandle, runNatsServer } from './nats.ts';
export { freePort, waitForPort } from './ports.ts';
export { entryPoints, type Stack, type StackOptions, startStack, waitHealthy } from './stack.ts';
