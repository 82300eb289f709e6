// Writing a model as a Hugging Face folder: config.json (the source's own, so a Qwen2 stays a Qwen2),
// model.safetensors in float32 with Hugging Face tensor names, and the tokenizer files. Used for adapters
// merged into their base, merge results and exports. The folder is written under a temporary name and
// renamed, so a reader never sees half of it.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LabError } from '@lab/common';
import { type ModelConfig, paramLayout, writeSafetensors } from '@lab/engine';
import { serializeTokenizer } from '@lab/tokenizer';
import { loadFolderTokenizer } from './folder.ts';

/** Files of a model folder that describe its tokenizer and generation, copied as they are. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'chat_template.jinja',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
];

export interface FolderSource {
  /** The folder whose config.json and tokenizer files the new one takes. */
  dir: string;
  /** The built-in tokenizer of older checkpoints written without tokenizer.json. */
  builtinTokenizer?: string;
}

/** Refuses a destination that holds anything: an export never overwrites. */
export function checkEmptyDestination(dest: string, field = 'path'): void {
  if (!existsSync(dest)) return;
  if (!statSync(dest).isDirectory() || readdirSync(dest).length)
    throw new LabError(
      'ALREADY_EXISTS',
      `${field}: ${dest} already exists and is not an empty folder`,
      field,
    );
}

/**
 * Writes `params` (paramLayout(cfg) order) as a Hugging Face folder at `dest` with the config and tokenizer
 * of `source`; returns the file names written.
 */
export function writeModelFolder(
  dest: string,
  cfg: ModelConfig,
  params: Float32Array,
  source: FolderSource,
): string[] {
  const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const layout = paramLayout(cfg);
    writeSafetensors(
      join(tmp, 'model.safetensors'),
      layout.entries.map((e) => ({ name: e.name, shape: [...e.shape], data: layout.view(params, e.name) })),
      { format: 'pt' },
    );
    const config = JSON.parse(readFileSync(join(source.dir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    // The weights are float32 now, whatever the source's files were.
    config.torch_dtype = 'float32';
    if ('dtype' in config) config.dtype = 'float32';
    writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    for (const f of TOKENIZER_FILES)
      if (existsSync(join(source.dir, f))) copyFileSync(join(source.dir, f), join(tmp, f));
    if (!existsSync(join(tmp, 'tokenizer.json'))) {
      // Older lab checkpoints keep their tokenizer in the job's folder or name a built-in one.
      const tok = loadFolderTokenizer(source.dir, source.builtinTokenizer);
      writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(serializeTokenizer(tok)));
    }
    const files = readdirSync(tmp).sort();
    if (existsSync(dest)) rmSync(dest, { recursive: true });
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
    return files;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Total bytes of the named files in `dir`. */
export function folderBytes(dir: string, files: readonly string[]): number {
  return files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}
