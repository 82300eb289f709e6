// Regenerates proto/src/gen (or the folder given as the first argument) from proto/lab/v1/*.proto.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function generate(outDir = join(protoRoot, 'src/gen')): void {
  const template = readFileSync(join(protoRoot, 'buf.gen.yaml'), 'utf8')
    .replace('out: src/gen', `out: ${outDir}`)
    .replace('local: ../node_modules', `local: ${join(protoRoot, '../node_modules')}`);
  const work = mkdtempSync(join(tmpdir(), 'lab-buf-'));
  try {
    const templatePath = join(work, 'buf.gen.yaml');
    writeFileSync(templatePath, template);
    rmSync(outDir, { recursive: true, force: true });
    execFileSync(join(protoRoot, '../node_modules/.bin/buf'), ['generate', '--template', templatePath], {
      cwd: protoRoot,
      stdio: 'inherit',
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  generate(process.argv[2] ? resolve(process.argv[2]) : undefined);
}
