import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINE_DIR, generateOnnx } from '../scripts/gen-onnx.ts';

describe('generated onnx.proto code', () => {
  it('is up to date with proto/onnx.proto (run `npx tsx engine/scripts/gen-onnx.ts`)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'onnx-gen-'));
    try {
      const fresh = readFileSync(join(generateOnnx(tmp), 'onnx.ts'), 'utf8');
      const committed = readFileSync(join(ENGINE_DIR, 'src', 'onnx', 'gen', 'onnx.ts'), 'utf8');
      expect(committed).toBe(fresh);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
