// What makes a checkpoint directory a Hugging Face model directory that transformers.js (and Python's
// transformers) load unchanged. The engine's saveCheckpoint writes config.json and model.safetensors; this
// adds the tokenizer in Hugging Face's tokenizer.json, tokenizer_config.json, generation_config.json, and
// onnx/model.onnx: transformers.js runs ONNX graphs, not safetensors, and the engine's KV-cache inference
// graph already has the input, output and dimension names it expects.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildInferenceGraph, type Graph, hfConfig, type ModelConfig, OnnxModelProto } from '@lab/engine';
import { serializeTokenizer, type Tokenizer } from '@lab/tokenizer';

/** tokenizer_config.json: the fields transformers.js and transformers read for a PreTrainedTokenizerFast. */
export interface HfTokenizerConfig {
  tokenizer_class: string;
  /** Off: the default would rewrite " ." as "." when decoding, so decoded text would differ from the lab's. */
  clean_up_tokenization_spaces: boolean;
  model_max_length: number;
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
}

/** generation_config.json: greedy by default, up to the model's context. */
export interface HfGenerationConfig {
  max_length: number;
  do_sample: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  pad_token_id?: number;
}

// Special tokens by role, most specific first: GPT-2's <|endoftext|> is both its bos and its eos, but a
// vocabulary with its own <|begin_of_text|> or <s> uses those.
const ROLES = {
  bos: ['<|begin_of_text|>', '<s>', '<bos>', '<|bos|>', '<|endoftext|>'],
  eos: ['<|end_of_text|>', '</s>', '<eos>', '<|eos|>', '<|endoftext|>'],
  unk: ['<unk>', '<|unk|>'],
  pad: ['<pad>', '<|pad|>', '<|padding|>'],
} as const;

function special(tok: Tokenizer, names: readonly string[]): string | undefined {
  return names.find((n) => tok.specialTokens.has(n));
}

/**
 * tokenizer_config.json for `tok` in a model of `context` tokens. Padding reuses the eos token when there is
 * no pad token (as GPT-2 checkpoints do). A char vocabulary has no special token and gets none: a padding id
 * would have to be a real character, which Python's transformers then treats as special, so decoding with
 * skip_special_tokens (as its text-generation pipeline does) would drop it from the text. transformers.js
 * needs no pad token to generate from one prompt, only to pad a batch of prompts of different lengths.
 */
export function hfTokenizerConfig(tok: Tokenizer, context: number): HfTokenizerConfig {
  const bos = special(tok, ROLES.bos);
  const eos = special(tok, ROLES.eos);
  const unk = special(tok, ROLES.unk);
  const pad = special(tok, ROLES.pad) ?? eos;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
    model_max_length: context,
    ...(bos !== undefined && { bos_token: bos }),
    ...(eos !== undefined && { eos_token: eos }),
    ...(unk !== undefined && { unk_token: unk }),
    ...(pad !== undefined && { pad_token: pad }),
  };
}

/** generation_config.json: the ids of hfTokenizerConfig's special tokens; greedy, up to the context. */
export function hfGenerationConfig(tok: Tokenizer, context: number): HfGenerationConfig {
  const t = hfTokenizerConfig(tok, context);
  const id = (name: string | undefined) => (name === undefined ? undefined : tok.specialTokens.get(name));
  const [bos, eos, pad] = [id(t.bos_token), id(t.eos_token), id(t.pad_token)];
  return {
    max_length: context,
    do_sample: false,
    ...(bos !== undefined && { bos_token_id: bos }),
    ...(eos !== undefined && { eos_token_id: eos }),
    ...(pad !== undefined && { pad_token_id: pad }),
  };
}

/**
 * The tokenizer files of a checkpoint, by name: tokenizer.json (Hugging Face's format for every kind, char
 * vocabularies included), tokenizer_config.json and generation_config.json. The same for every checkpoint
 * of a run, so callers make them once: exporting a large built-in vocabulary takes seconds.
 */
export function hfTokenizerFiles(tok: Tokenizer, context: number): Record<string, string> {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return {
    'tokenizer.json': JSON.stringify(serializeTokenizer(tok)),
    'tokenizer_config.json': json(hfTokenizerConfig(tok, context)),
    'generation_config.json': json(hfGenerationConfig(tok, context)),
  };
}

export const ONNX_DIR = 'onnx';
export const ONNX_MODEL = 'model.onnx';
/** transformers.js's name for the external data of model.onnx (`use_external_data_format: true`). */
export const ONNX_DATA = 'model.onnx_data';
// As onnx's own convert_model_to_external_data: small tensors stay in the graph, and external ones start on
// a page boundary so ONNX Runtime can map them.
const LARGE_TENSOR_BYTES = 1024;
const EXTERNAL_ALIGN = 4096;

/**
 * Whether `cfg`'s onnx/model.onnx keeps its weights in onnx/model.onnx_data. hfConfig decides (it tells
 * transformers.js in config.json), for graphs that a single ONNX protobuf, limited to 2 GiB, cannot hold.
 */
export function usesExternalData(cfg: ModelConfig): boolean {
  const js = hfConfig(cfg)['transformers.js_config'] as { use_external_data_format?: boolean } | undefined;
  return js?.use_external_data_format === true;
}

/**
 * Writes `<dir>/onnx/model.onnx`, the KV-cache inference graph of buildInferenceGraph with `params` as its
 * weights (plus model.onnx_data when `externalData`, by default as usesExternalData says). The folder is
 * written under a temporary name and renamed, so it is never seen half-written. Returns the paths written,
 * relative to `dir`.
 */
export function writeOnnxModel(
  dir: string,
  cfg: ModelConfig,
  params: Float32Array,
  opts: { externalData?: boolean } = {},
): string[] {
  const final = join(dir, ONNX_DIR);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const external = opts.externalData ?? usesExternalData(cfg);
  writeGraph(buildInferenceGraph(cfg, params), join(tmp, ONNX_MODEL), external ? join(tmp, ONNX_DATA) : null);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return [ONNX_MODEL, ...(external ? [ONNX_DATA] : [])].map((f) => `${ONNX_DIR}/${f}`);
}

type TensorMsg = NonNullable<ReturnType<Graph['toProto']>['graph']>['initializer'][number];

/**
 * What Graph.toBytes() encodes, written to a file without building it in memory: protobuf encoding of the
 * weights took 6-9 s for GPT-2 small's 500 MB (most of a checkpoint's cost), so the graph is encoded
 * without its large initializers, which are then streamed into the same `graph` field, each weight's bytes
 * written straight from its array. With `dataPath`, those weights go to ONNX external data instead and
 * their TensorProtos say where (data_location EXTERNAL, external_data location/offset/length, as in
 * onnx.proto: fields the engine's generated protobuf code lacks).
 */
function writeGraph(g: Graph, modelPath: string, dataPath: string | null): void {
  g.prune();
  g.validate();
  const proto = g.toProto();
  const graph = proto.graph!;
  const small: TensorMsg[] = [];
  const large: TensorMsg[] = [];
  for (const t of graph.initializer) ((t.rawData?.length ?? 0) >= LARGE_TENSOR_BYTES ? large : small).push(t);

  // Each large initializer as a GraphProto.initializer entry (field 5): its head, then its bytes if inline.
  const entries: { head: Uint8Array; data?: Uint8Array }[] = [];
  if (dataPath === null) {
    for (const t of large) {
      const data = t.rawData!;
      const msg = tensorHeader(t).tag(9, 2).raw(data.length).finish(); // raw_data, its bytes follow
      entries.push({
        head: new Proto()
          .tag(5, 2)
          .raw(msg.length + data.length)
          .bytesOf(msg)
          .finish(),
        data,
      });
    }
  } else {
    const fd = openSync(dataPath, 'w');
    try {
      let offset = 0;
      for (const t of large) {
        const data = t.rawData!;
        offset = Math.ceil(offset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
        writeAll(fd, data, offset);
        const msg = tensorHeader(t);
        for (const [key, value] of [
          ['location', ONNX_DATA],
          ['offset', String(offset)],
          ['length', String(data.length)],
        ])
          msg.bytes(13, new Proto().string(1, key).string(2, value).finish()); // external_data
        msg.varint(14, 1); // data_location = EXTERNAL
        entries.push({ head: new Proto().bytes(5, msg.finish()).finish() });
        offset += data.length;
      }
    } finally {
      closeSync(fd);
    }
  }

  const rest = OnnxModelProto.encode({ ...proto, graph: undefined }).finish();
  // The graph without its large initializers, as ModelProto.graph's bytes (after the field's tag and length).
  const withGraph = OnnxModelProto.encode({
    opsetImport: [],
    metadataProps: [],
    graph: { ...graph, initializer: small },
  }).finish();
  const graphBytes = withGraph.subarray(withGraph.length - readLength(withGraph));
  let graphLength = graphBytes.length;
  for (const e of entries) graphLength += e.head.length + (e.data?.length ?? 0);
  const fd = openSync(modelPath, 'w');
  try {
    for (const part of [rest, new Proto().tag(7, 2).raw(graphLength).finish(), graphBytes])
      writeAll(fd, part);
    for (const e of entries) {
      writeAll(fd, e.head);
      if (e.data) writeAll(fd, e.data);
    }
  } finally {
    closeSync(fd);
  }
}

/** writeSync until all of `data` is written (at `position`, or at the file's current offset). */
function writeAll(fd: number, data: Uint8Array, position?: number): void {
  for (let done = 0; done < data.length; )
    done += writeSync(fd, data, done, data.length - done, position === undefined ? null : position + done);
}

/** The length of a message holding one length-delimited field: the varint after its one-byte tag. */
function readLength(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 1, scale = 1; ; i++, scale *= 0x80) {
    n += (bytes[i] & 0x7f) * scale;
    if (bytes[i] < 0x80) return n;
  }
}

/** A TensorProto's dims (1), data_type (2) and name (8). */
function tensorHeader(t: TensorMsg): Proto {
  const p = new Proto();
  for (const d of t.dims) p.varint(1, d);
  return p.varint(2, t.dataType ?? 0).string(8, t.name ?? '');
}

/** Just enough protobuf wire format for the above: varints and length-delimited fields. */
class Proto {
  private readonly parts: Uint8Array[] = [];
  /** A bare varint. Arithmetic rather than bit operations: offsets and lengths can exceed 32 bits. */
  raw(n: number): this {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    this.parts.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wireType: 0 | 2): this {
    return this.raw(field * 8 + wireType);
  }
  varint(field: number, n: number): this {
    return this.tag(field, 0).raw(n);
  }
  bytes(field: number, b: Uint8Array): this {
    return this.tag(field, 2).raw(b.length).bytesOf(b);
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  bytesOf(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}
