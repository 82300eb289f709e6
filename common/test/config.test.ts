import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '@lab/common';
import { entryPoints } from '@lab/supervisor';
import { describe, expect, it } from 'vitest';

describe('configuration from the environment', () => {
  it('has loopback defaults and documented ports', () => {
    const c = loadConfig({ LAB_HOME: '/tmp/x' });
    expect(c.host).toBe('127.0.0.1');
    expect(c.gatewayPort).toBe(7100);
    expect(c.ports).toEqual({ tokenize: 7101, data: 7102, train: 7103, infer: 7104, eval: 7105 });
    expect(c.addresses.train).toBe('127.0.0.1:7103');
    expect(c.executionProvider).toBe('cpu');
  });

  it('lets LAB_PORT move the gateway and LAB_*_ADDR point at other hosts', () => {
    const c = loadConfig({ LAB_PORT: '8080', LAB_TRAIN_ADDR: 'train:7103', LAB_HOST: '0.0.0.0' });
    expect(c.gatewayPort).toBe(8080);
    expect(c.addresses.train).toBe('train:7103');
    expect(c.addresses.data).toBe('127.0.0.1:7102');
  });

  it.each([
    ['LAB_PORT', 'abc'],
    ['LAB_TRAIN_PORT', '70000'],
    ['LAB_EP', 'tpu'],
    ['LAB_LOG_LEVEL', 'loud'],
    ['NATS_URL', 'nats://bad host'],
    ['LAB_DATA_ADDR', 'no-port'],
    ['LAB_TRAIN_LEASE_MS', '5'],
    ['LAB_DATA_MAX_BYTES', '-1'],
  ])('rejects %s=%s with an error naming the variable', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as Error).message).toContain(name);
  });

  it.each(['tokenize', 'gateway'] as const)(
    '%s process exits with a message naming a bad variable',
    (name) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', entryPoints[name]], {
        env: { ...process.env, LAB_PORT: 'not-a-port', LAB_HOME: '/tmp/lab-config-test' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/LAB_PORT must be a port number/);
    },
  );
});
