// What a model directory holds, read without loading its weights: the configuration, the tokenizer and
// the generation settings. Lab checkpoints and Hugging Face folders are read the same way.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabError } from '@lab/common';
import { configFromHf, type ModelConfig, paramLayout } from '@lab/engine';
import { getTokenizer, isBuiltinName, parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';

/** tokenizer_config.json fields the service uses. */
export interface TokenizerConfig {
  chat_template?: string | { name: string; template: string }[];
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  model_max_length?: number;
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

/** The chat template of tokenizer_config.json: a string, or the "default" of a list of named templates. */
function chatTemplateOf(tc: TokenizerConfig | undefined, dir: string): string | undefined {
  const t = tc?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x.name === 'default') ?? t[0])?.template;
  // Newer Hugging Face folders keep the template in its own file.
  const jinja = join(dir, 'chat_template.jinja');
  return existsSync(jinja) ? readFileSync(jinja, 'utf8') : undefined;
}

/** Reads a model directory's configuration; errors name the file and what is wrong. */
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
  let cfg: ModelConfig;
  try {
    cfg = configFromHf(hf);
  } catch (err) {
    throw new LabError('INVALID_ARGUMENT', `${field}: ${configPath}: ${(err as Error).message}`, field);
  }
  const parameters = paramLayout(cfg).total;
  const archs = hf.architectures;
  const architecture =
    Array.isArray(archs) && typeof archs[0] === 'string'
      ? archs[0]
      : cfg.family === 'gpt2'
        ? 'GPT2LMHeadModel'
        : 'LlamaForCausalLM';
  const tokenizerConfig = readJson<TokenizerConfig>(join(dir, 'tokenizer_config.json'), field);
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
    tokenizerConfig,
    generationConfig,
    chatTemplate: chatTemplateOf(tokenizerConfig, dir),
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

/** A special token's text from tokenizer_config.json's string-or-object form. */
export function tokenText(t: string | { content: string } | null | undefined): string | undefined {
  if (t == null) return undefined;
  return typeof t === 'string' ? t : t.content;
}
