// Regenerates src/onnx/gen from proto/onnx.proto with buf + ts-proto (see buf.gen.yaml).
// `--out DIR` writes elsewhere (the staleness test compares a fresh generation with the committed one).
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENGINE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Run buf generate; returns the directory holding onnx.ts. */
export function generateOnnx(outBase = ENGINE_DIR): string {
  const buf = join(ENGINE_DIR, '..', 'node_modules', '.bin', 'buf');
  execFileSync(buf, ['generate', '--template', 'buf.gen.yaml', '--output', outBase], {
    cwd: ENGINE_DIR,
    stdio: 'inherit',
  });
  return join(outBase, 'src', 'onnx', 'gen');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const dir = generateOnnx(i > 0 ? resolve(process.argv[i + 1]) : ENGINE_DIR);
  console.log(`generated ${dir}/onnx.ts`);
}
