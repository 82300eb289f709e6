import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protoRoot } from '@lab/proto';
import { describe, expect, it } from 'vitest';
import { generate } from '../scripts/generate.ts';

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('generated TypeScript', () => {
  it('is up to date with proto/lab/v1 (run `npm run gen` after editing a .proto)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lab-gen-'));
    generate(fresh);
    const committed = join(protoRoot, 'src/gen');
    const files = listFiles(fresh).sort();
    expect(listFiles(committed).sort()).toEqual(files);
    for (const f of files) {
      expect(readFileSync(join(committed, f), 'utf8'), `${f} is stale`).toBe(
        readFileSync(join(fresh, f), 'utf8'),
      );
    }
  });

  it('documents every message, field and rpc in the .proto files', () => {
    for (const file of readdirSync(join(protoRoot, 'lab/v1'))) {
      const lines = readFileSync(join(protoRoot, 'lab/v1', file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const t = line.trim();
        const declares =
          /^(message|rpc|service)\s/.test(t) ||
          /^(repeated\s+|map<[^>]+>\s+)?[\w.]+\s+\w+\s*=\s*\d+;/.test(t);
        if (!declares) return;
        expect(lines[i - 1]?.trim().startsWith('//'), `${file}:${i + 1} "${t}" has no comment`).toBe(true);
      });
    }
  });
});
