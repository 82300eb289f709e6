import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory holding `lab/v1/*.proto`: the include root for proto-loader, reflection and grpcurl. */
export const protoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The lab's .proto files relative to protoRoot. */
export const protoFiles: string[] = readdirSync(join(protoRoot, 'lab/v1'))
  .filter((f) => f.endsWith('.proto'))
  .sort()
  .map((f) => `lab/v1/${f}`);

// Generated messages and services are imported per file: `@lab/proto/tokenize`, `@lab/proto/train`, …
