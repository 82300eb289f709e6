// What a model directory holds, read without loading its weights: the configuration, the tokenizer and
// the generation settings. Lab checkpoints and Hugging Face folders are read the same way.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabError } from '@lab/common';
import { chatTemplateOf, type ModelConfig, modelConfigFromHf, paramLayout } from '@lab/engine';
import { getTokenizer, isBuiltinName, parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';

/** tokenizer_config.json fields the service uses (the chat template is read by the engine's chatTemplateOf). */
export interface TokenizerConfig {
  bos_token?: unknown;
  eos_token?: unknown;
  add_bos_token?: boolean;
}

/** generation_config.json fields the service uses. */
export interface GenerationConfig {
  eos_token_id?: number | number[];
  bos_token_id?: number;
  max_length?: number;
}

export interface FolderInfo {
  dir: string;
  cfg: ModelConfig;
  architecture: string;
  parameters: number;
  /** Bytes of float32 weights once loaded. */
  weightBytes: number;
  dtype: string;
  hfConfig: Record<string, unknown>;
  tokenizerConfig?: TokenizerConfig;
  generationConfig?: GenerationConfig;
  chatTemplate?: string;
}

function readJson<T>(path: string, field: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${field}: ${path} is not valid JSON (${(err as Error).message})`,
      field,
    );
  }
}

/**
 * Reads a model directory's JSON files, not its weights (cheap enough for every listing); errors name the
 * file and what is wrong. inspectModelFolder checks the weights' headers too, at import and load.
 */
export function describeFolder(dir: string, field = 'path'): FolderInfo {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new LabError('INVALID_ARGUMENT', `${field}: ${dir} is not a directory`, field);
  const configPath = join(dir, 'config.json');
  const hf = readJson<Record<string, unknown>>(configPath, field);
  if (!hf) throw new LabError('INVALID_ARGUMENT', `${field}: ${dir} has no config.json`, field);
  if (!existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'model.safetensors.index.json')))
    throw new LabError(
      'INVALID_ARGUMENT',
      `${field}: ${dir} has neither model.safetensors nor model.safetensors.index.json`,
      field,
    );
  let mapped: ReturnType<typeof modelConfigFromHf>;
  try {
    mapped = modelConfigFromHf(hf, { source: configPath });
  } catch (err) {
    throw new LabError('INVALID_ARGUMENT', `${field}: ${(err as Error).message}`, field);
  }
  const { cfg, architecture } = mapped;
  const parameters = paramLayout(cfg).total;
  const tokenizerConfig = readJson<Record<string, unknown>>(join(dir, 'tokenizer_config.json'), field);
  const generationConfig = readJson<GenerationConfig>(join(dir, 'generation_config.json'), field);
  const dtypeRaw = String(hf.torch_dtype ?? hf.dtype ?? 'float32');
  return {
    dir,
    cfg,
    architecture,
    parameters,
    weightBytes: parameters * 4,
    dtype: dtypeRaw === 'bfloat16' || dtypeRaw === 'float16' ? dtypeRaw : 'float32',
    hfConfig: hf,
    tokenizerConfig: tokenizerConfig as TokenizerConfig | undefined,
    generationConfig,
    chatTemplate: chatTemplateOf(dir, tokenizerConfig),
  };
}

/**
 * The tokenizer of a model directory: its tokenizer.json; for checkpoints of older svc-train jobs, the job
 * folder's (two levels up) or the built-in the job trained with.
 */
export function loadFolderTokenizer(dir: string, builtin?: string): Tokenizer {
  for (const path of [join(dir, 'tokenizer.json'), join(dirname(dirname(dir)), 'tokenizer.json')]) {
    if (!existsSync(path)) continue;
    try {
      return parseTokenizerJson(readFileSync(path, 'utf8'), 'model');
    } catch (err) {
      throw new LabError('INVALID_ARGUMENT', `tokenizer: ${path}: ${(err as Error).message}`, 'tokenizer');
    }
  }
  if (builtin && isBuiltinName(builtin)) return getTokenizer(builtin);
  throw new LabError(
    'FAILED_PRECONDITION',
    `tokenizer: ${dir} has no tokenizer.json (a model folder needs one to turn text into tokens)`,
    'tokenizer',
  );
}
