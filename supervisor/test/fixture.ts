import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll } from 'vitest';

/**
 * Starts a real stack (nats-server, five services, gateway on free loopback ports) for the test file and
 * stops it afterwards; the getter is valid inside tests.
 */
export function useStack(): () => Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack({ ports: 'free', nats: true, output: 'buffer' });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the stack is not running');
    return stack;
  };
}
