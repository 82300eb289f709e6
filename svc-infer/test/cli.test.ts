// lab-infer in this process's mode (its own store under LAB_HOME): import a folder, list it, generate
// with --json, and a bad flag exits non-zero with the field named.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../supervisor/test/fixture.ts';
import { writeCharModel } from './fixture.ts';

const bin = resolve(import.meta.dirname, '../bin/lab-infer.js');

describe('lab-infer', () => {
  it('imports, lists and generates; bad input exits 1 naming the field', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lab-infer-cli-'));
    const m = writeCharModel(join(home, 'bard'));
    // An address nothing listens on: no svc-train to ask for checkpoints.
    const env = { ...process.env, LAB_HOME: join(home, 'lab'), LAB_TRAIN_ADDR: '127.0.0.1:1' };
    const imp = await runCli(bin, ['import', m.dir, '--name', 'bard'], { env });
    expect(imp.code).toBe(0);
    const list = await runCli(bin, ['models', '--json'], { env });
    expect(JSON.parse(list.stdout).map((x: { name: string }) => x.name)).toEqual(['bard']);
    const gen = await runCli(
      bin,
      ['generate', '--model', 'bard', '--max-tokens', '5', '--temperature', '0', '--json', 'ROMEO:'],
      {
        env,
      },
    );
    expect(gen.code).toBe(0);
    const events = gen.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(Object.keys(events[0])).toEqual(['preflight']);
    expect(events.filter((e) => e.token)).toHaveLength(5);
    expect(events.at(-1).done).toMatchObject({ finishReason: 'length', completionTokens: 5 });
    const bad = await runCli(bin, ['generate', '--model', 'bard', '--top-p', '2', 'x'], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/params\.topP: must be in \(0, 1\]/);
  });
});
