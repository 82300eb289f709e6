// A Hugging Face model folder (config.json + model.safetensors, or shards + model.safetensors.index.json,
// plus the tokenizer and generation files) or a lab checkpoint, loaded into the engine's flat float32
// parameter layout. Everything that can be checked from headers is checked before any tensor data is read:
// the architecture, every tensor's name, dtype and shape, and the memory the parameters will take.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, join } from 'node:path';
import type { ModelConfig } from '../models/config.ts';
import { paramLayout } from '../models/model.ts';
import type { ParamEntry, ParamLayout } from '../models/params.ts';
import { modelConfigFromHf } from './hf-config.ts';
import {
  type FloatDtype,
  isFloatDtype,
  readSafetensorsHeader,
  readTensorsInto,
  type SafetensorsHeader,
  type TensorInfo,
  type TensorRead,
} from './safetensors.ts';

export interface ModelFolderOptions {
  /**
   * Refuse a model whose float32 parameters need more bytes than this. Default: a quarter of the machine's
   * memory, because running it holds about three more copies (the ONNX export's initializers, its
   * serialised protobuf, ONNX Runtime's own) while the session is created.
   */
  maxBytes?: number;
  /** Cap the context to this many tokens (RoPE models need no weights for it; a learned position table is read up to it). */
  maxContext?: number;
  /** Refuse a folder without tokenizer.json. Default: true for Hugging Face folders, false for lab checkpoints. */
  requireTokenizer?: boolean;
}

export interface SpecialTokens {
  bos?: string;
  eos?: string;
  unk?: string;
  pad?: string;
}

/** What a folder holds, known from its JSON files and safetensors headers alone. */
export interface ModelFolderInfo {
  dir: string;
  cfg: ModelConfig;
  layout: ParamLayout;
  /** Hugging Face class name, e.g. LlamaForCausalLM. */
  architecture: string;
  /** A lab checkpoint (config.json with `lab_config`). */
  lab: boolean;
  /** dtype of the weights in the files ('mixed' when they differ). */
  dtype: FloatDtype | 'mixed';
  /** The safetensors files the weights come from. */
  files: string[];
  /** Bytes the float32 parameters take in memory. */
  bytes: number;
  /** Adjustments made while mapping the config (e.g. the context capped to a sliding window). */
  notes: string[];
  /** tokenizer.json, as text. */
  tokenizerJson?: string;
  tokenizerConfig?: Record<string, unknown>;
  /** Jinja chat template (tokenizer_config.json's chat_template, or chat_template.jinja). */
  chatTemplate?: string;
  specialTokens: SpecialTokens;
  generationConfig?: Record<string, unknown>;
}

export interface ModelFolder extends ModelFolderInfo {
  /** All weights in paramLayout(cfg) order. */
  params: Float32Array;
}

function readJson(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${path}: not a JSON object`);
  return json as Record<string, unknown>;
}

const optionalJson = (path: string): Record<string, unknown> | undefined =>
  existsSync(path) ? readJson(path) : undefined;

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

const gb = (bytes: number): string =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;

/** At most `n` items, then a count of the rest, so one error line stays readable for a wholly wrong folder. */
function listSome(items: readonly string[], n = 8): string {
  return items.length <= n
    ? items.join('; ')
    : `${items.slice(0, n).join('; ')}; and ${items.length - n} more`;
}

/** Headers of the folder's weight files: the index's shards, or model.safetensors. */
function weightHeaders(dir: string): SafetensorsHeader[] {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const index = readJson(indexPath);
    const map = index.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map))
      throw new Error(`${indexPath}: no weight_map object`);
    const byFile = new Map<string, SafetensorsHeader>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      // Shards sit beside the index; a path elsewhere would read files outside the model folder.
      if (typeof file !== 'string' || basename(file) !== file || !file.endsWith('.safetensors'))
        throw new Error(
          `${indexPath}: weight_map maps '${name}' to ${JSON.stringify(file)}, not a .safetensors file name`,
        );
      let header = byFile.get(file);
      if (!header) {
        const path = join(dir, file);
        if (!existsSync(path))
          throw new Error(`${indexPath}: shard ${file} (holding '${name}') is missing from ${dir}`);
        header = readSafetensorsHeader(path);
        byFile.set(file, header);
      }
      if (!header.tensors.has(name))
        throw new Error(`${indexPath}: weight_map puts '${name}' in ${file}, but ${file} has no such tensor`);
    }
    if (!byFile.size) throw new Error(`${indexPath}: weight_map is empty`);
    return [...byFile.values()];
  }
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [readSafetensorsHeader(single)];
  const present = existsSync(dir) ? readdirSync(dir) : [];
  const pickles = present.filter((f) => /\.(bin|pt|pth|ckpt)$/.test(f));
  throw new Error(
    `${dir}: no model.safetensors or model.safetensors.index.json` +
      (pickles.length
        ? ` (found ${pickles.join(', ')}: PyTorch pickle checkpoints are not read; convert them to safetensors)`
        : existsSync(dir)
          ? ` (found: ${present.join(', ') || 'nothing'})`
          : ' (no such directory)'),
  );
}

/** Tensors a checkpoint may carry that are not parameters: causal-mask and RoPE buffers older exports saved. */
const BUFFERS = [/(^|\.)attn\.(bias|masked_bias)$/, /(^|\.)rotary_emb\.inv_freq$/];

interface Planned {
  header: SafetensorsHeader;
  tensor: TensorInfo;
  entry: ParamEntry;
}

interface MatchOptions {
  cfg: ModelConfig;
  layout: ParamLayout;
  /** Prefix of every name in the files (the optimizer state's `exp_avg.`). */
  prefix: string;
  /** Rows of a learned position table in the files (more than the layout's when the context is capped). */
  declaredContext: number;
  /** What the tensors should match, for errors. */
  against: string;
}

/**
 * Match the layout's parameters to tensors in the headers by name, checking dtype and shape.
 * Returns the matches, the parameters not found and the names no parameter claimed.
 */
function matchLayout(
  headers: readonly SafetensorsHeader[],
  o: MatchOptions,
): { planned: Planned[]; missing: ParamEntry[]; unclaimed: string[] } {
  const all = new Map<string, { header: SafetensorsHeader; tensor: TensorInfo }>();
  for (const header of headers)
    for (const tensor of header.tensors.values()) {
      const other = all.get(tensor.name);
      if (other)
        throw new Error(
          `tensor '${tensor.name}' is in both ${basename(other.header.path)} and ${basename(header.path)}`,
        );
      all.set(tensor.name, { header, tensor });
    }
  const planned: Planned[] = [];
  const missing: ParamEntry[] = [];
  const problems: string[] = [];
  const claimed = new Set<string>();
  for (const entry of o.layout.entries) {
    const names = [o.prefix + entry.name];
    // The original GPT-2 checkpoints were saved from GPT2Model, without the `transformer.` prefix.
    if (o.cfg.family === 'gpt2') names.push(o.prefix + entry.name.replace(/^transformer\./, ''));
    const name = names.find((n) => all.has(n));
    if (!name) {
      missing.push(entry);
      continue;
    }
    claimed.add(name);
    const { header, tensor } = all.get(name)!;
    const file = basename(header.path);
    if (!isFloatDtype(tensor.dtype)) {
      problems.push(`${file}: '${name}' has dtype ${tensor.dtype} (only F32, F16 and BF16 load)`);
      continue;
    }
    const same =
      tensor.shape.length === entry.shape.length && tensor.shape.every((d, i) => d === entry.shape[i]);
    // A capped context reads the first rows of a learned position table.
    const positionPrefix =
      /(wpe|embed_positions)\.weight$/.test(entry.name) &&
      tensor.shape.length === 2 &&
      tensor.shape[0] === o.declaredContext &&
      o.declaredContext >= entry.shape[0] &&
      tensor.shape[1] === entry.shape[1];
    if (!same && !positionPrefix) {
      problems.push(
        `${file}: '${name}' has shape ${shapeStr(tensor.shape)}, expected ${shapeStr(entry.shape)}`,
      );
      continue;
    }
    planned.push({ header, tensor, entry });
  }
  if (problems.length) throw new Error(`tensors do not match ${o.against}: ${listSome(problems)}`);
  const unclaimed = [...all.keys()].filter((n) => !claimed.has(n));
  return { planned, missing, unclaimed };
}

/** Read the matched tensors into one flat array, file by file. */
function readPlanned(planned: readonly Planned[], total: number): Float32Array {
  const flat = new Float32Array(total);
  const byHeader = new Map<SafetensorsHeader, TensorRead[]>();
  for (const { header, tensor, entry } of planned) {
    const reads = byHeader.get(header) ?? [];
    reads.push({ tensor, out: flat.subarray(entry.offset, entry.offset + entry.size) });
    byHeader.set(header, reads);
  }
  for (const [header, reads] of byHeader) readTensorsInto(header, reads);
  return flat;
}

/**
 * The optimizer state (or any layout-shaped tensors under `prefix`) of a safetensors file, or undefined when
 * any parameter is missing from it.
 */
export function readLayoutTensors(
  path: string,
  cfg: ModelConfig,
  layout: ParamLayout,
  prefix: string,
): Float32Array | undefined {
  const header = readSafetensorsHeader(path);
  const { planned, missing } = matchLayout([header], {
    cfg,
    layout,
    prefix,
    declaredContext: cfg.blockSize,
    against: `the model config (under '${prefix}')`,
  });
  return missing.length ? undefined : readPlanned(planned, layout.total);
}

/** A special token's text from tokenizer_config.json, where it is a string or an AddedToken object. */
export function addedTokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // AddedToken objects: {"content": "<s>", "lstrip": false, ...}
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

/** The folder's Jinja chat template: tokenizer_config.json's, chat_template.jinja or chat_template.json. */
export function chatTemplateOf(dir: string, tc: Record<string, unknown> | undefined): string | undefined {
  const t = tc?.chat_template;
  if (typeof t === 'string') return t;
  // Some tokenizers ship several named templates; 'default' is the one apply_chat_template uses.
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x.name === 'default') ?? named[0];
    if (typeof pick?.template === 'string') return pick.template;
  }
  // Newer transformers save the template beside the config instead.
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const ct = optionalJson(join(dir, 'chat_template.json'))?.chat_template;
  return typeof ct === 'string' ? ct : undefined;
}

interface Plan extends ModelFolderInfo {
  planned: Planned[];
}

function plan(dir: string, opts: ModelFolderOptions): Plan {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new Error(`${dir}: no config.json${existsSync(dir) ? '' : ' (no such directory)'}`);
  const mapped = modelConfigFromHf(readJson(configPath), { maxContext: opts.maxContext, source: configPath });
  const { cfg, architecture, lab } = mapped;
  const layout = paramLayout(cfg);

  const headers = weightHeaders(dir);
  const against = `${configPath} (${architecture})`;
  const { planned, missing, unclaimed } = matchLayout(headers, {
    cfg,
    layout,
    prefix: '',
    declaredContext: mapped.declaredContext,
    against,
  });
  const fileNames = headers.map((h) => basename(h.path)).join(', ');
  if (missing.length) {
    const hint =
      missing.some((e) => e.name === 'lm_head.weight') && !cfg.tieEmbeddings
        ? ' (config.json says tie_word_embeddings is false, so the output layer must be stored)'
        : '';
    throw new Error(
      `${dir}: ${missing.length} tensor(s) missing from ${fileNames} for ${architecture}: ` +
        listSome(missing.map((e) => `'${e.name}' (expected shape ${shapeStr(e.shape)})`)) +
        hint,
    );
  }
  const extra = unclaimed.filter(
    (n) =>
      !BUFFERS.some((re) => re.test(n)) &&
      // Tied weights: transformers ties lm_head to the embedding on load, whatever the file holds.
      !(cfg.tieEmbeddings && n === 'lm_head.weight'),
  );
  if (extra.length)
    throw new Error(
      `${dir}: unexpected tensor(s) in ${fileNames}, which ${against} has no place for: ` +
        listSome(extra.map((n) => `'${n}'`)),
    );

  const dtypes = new Set(planned.map((p) => p.tensor.dtype as FloatDtype));
  const bytes = layout.total * 4;

  const tokenizerPath = join(dir, 'tokenizer.json');
  let tokenizerJson: string | undefined;
  if (existsSync(tokenizerPath)) {
    tokenizerJson = readFileSync(tokenizerPath, 'utf8');
    try {
      JSON.parse(tokenizerJson);
    } catch (err) {
      throw new Error(`${tokenizerPath}: not valid JSON (${(err as Error).message})`);
    }
  } else if (opts.requireTokenizer ?? !lab) {
    const others = ['tokenizer.model', 'vocab.json', 'merges.txt'].filter((f) => existsSync(join(dir, f)));
    throw new Error(
      `${dir}: no tokenizer.json, which a Hugging Face model folder needs for its tokenizer` +
        (others.length ? ` (found ${others.join(', ')}; only tokenizer.json is read)` : ''),
    );
  }
  const tokenizerConfig = optionalJson(join(dir, 'tokenizer_config.json'));
  const stMap = optionalJson(join(dir, 'special_tokens_map.json'));
  const special = (k: string): string | undefined =>
    addedTokenText(tokenizerConfig?.[k]) ?? addedTokenText(stMap?.[k]);
  const specialTokens: SpecialTokens = {};
  for (const k of ['bos', 'eos', 'unk', 'pad'] as const) {
    const t = special(`${k}_token`);
    if (t !== undefined) specialTokens[k] = t;
  }

  return {
    dir,
    cfg,
    layout,
    architecture,
    lab,
    dtype: dtypes.size === 1 ? [...dtypes][0] : 'mixed',
    files: headers.map((h) => h.path),
    bytes,
    notes: mapped.notes,
    tokenizerJson,
    tokenizerConfig,
    chatTemplate: chatTemplateOf(dir, tokenizerConfig),
    specialTokens,
    generationConfig: optionalJson(join(dir, 'generation_config.json')),
    planned,
  };
}

/** Validate a model folder and describe it from its headers and JSON files; no tensor data is read. */
export function inspectModelFolder(dir: string, opts: ModelFolderOptions = {}): ModelFolderInfo {
  const { planned: _, ...info } = plan(dir, opts);
  return info;
}

/**
 * Load a Hugging Face model folder (GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM;
 * F32, F16 or BF16; single or sharded safetensors) or a lab checkpoint into paramLayout(cfg) order.
 */
export function loadModelFolder(dir: string, opts: ModelFolderOptions = {}): ModelFolder {
  const { planned, ...info } = plan(dir, opts);
  const maxBytes = opts.maxBytes ?? Math.floor(totalmem() / 4);
  if (info.bytes > maxBytes)
    throw new Error(
      `${dir}: ${info.architecture} with ${info.layout.total.toLocaleString('en-US')} parameters needs ` +
        `${gb(info.bytes)} as float32, over the ${gb(maxBytes)} limit (maxBytes); nothing was loaded`,
    );
  return { ...info, params: readPlanned(planned, info.layout.total) };
}
