// Loaded models, shared by every request: each loads once (concurrent first uses wait for the same load),
// stays while used, is unloaded after an idle time or on demand, and all of them fit a memory budget.
import { totalmem } from 'node:os';
import { LabError, type Logger } from '@lab/common';
import { addedTokenText, type DecodeFormat, type InferenceModel, loadInferenceModel } from '@lab/engine';
import type { Tokenizer } from '@lab/tokenizer';
import type { ModelEntry } from './catalog.ts';
import { describeFolder, type FolderInfo, loadFolderTokenizer } from './folder.ts';
import { eosIdsOf } from './stops.ts';

export interface LoadedModel {
  entry: ModelEntry;
  info: FolderInfo;
  /** Shared by every request; each keeps its own KV-cache snapshots. */
  lm: InferenceModel;
  tokenizer: Tokenizer;
  /** Ids that end a generation. */
  eosIds: ReadonlySet<number>;
  /** Prepended to plain prompts when the tokenizer asks for it (Llama's add_bos_token). */
  bosId?: number;
  bosToken?: string;
  eosToken?: string;
  bytes: number;
  loadMs: number;
}

interface Slot {
  model?: LoadedModel;
  loading?: Promise<LoadedModel>;
  users: number;
  lastUsed: number;
  bytes: number;
}

export interface PoolOptions {
  /** Budget for all loaded models, bytes (default: half of the machine's memory). */
  memoryBytes?: number;
  /** Unload a model unused for this long (ms); 0 = never. */
  idleMs?: number;
  log?: Logger;
  /**
   * Where quantised models keep their codes between loads (the engine's InferenceOptions.quantCache;
   * svc-infer passes $LAB_HOME/infer/quantized). None: quantise at every load.
   */
  quantCache?: string;
}

/** Default budget: half the machine's memory, leaving the rest to the other services and the OS. */
export const defaultMemoryBytes = (): number => Math.floor(totalmem() / 2);

const MB = 1024 * 1024;

export class ModelPool {
  private readonly slots = new Map<string, Slot>();
  readonly memoryBytes: number;
  private readonly idleMs: number;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: PoolOptions = {}) {
    this.memoryBytes = opts.memoryBytes ?? defaultMemoryBytes();
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    if (this.idleMs > 0) {
      this.timer = setInterval(() => void this.unloadIdle(), Math.min(this.idleMs, 30_000));
      this.timer.unref();
    }
  }

  isLoaded(name: string): boolean {
    return !!this.slots.get(name)?.model;
  }

  /** How a loaded model decodes a token now (ModelInfo.decoding); '' when not loaded. */
  decoding(name: string): string {
    const lm = this.slots.get(name)?.model?.lm;
    if (!lm) return '';
    const q = lm.quantization;
    const kernel = q
      ? `MatMulNBits ${q.format}`
      : lm.labKernel
        ? `lab.engine::Linear ${lm.labKernel}`
        : 'ORT Gemm';
    return `${kernel}, ${lm.threading}`;
  }

  /**
   * Bytes a model may take once loaded, checked before loading: its float32 weights and, at most, a copy of
   * them in faster layouts (the engine makes one for GPT-2's linear layers). Quantised, the float32 file
   * stays mapped (embeddings are read from it), the codes and scales (4 + 32/32 or 8 + 32/32 bits a
   * weight) are mapped from the cache or held once, and ONNX Runtime's sessions share one repacked copy.
   */
  static estimateBytes(info: FolderInfo, quantize?: DecodeFormat): number {
    if (!quantize) return 2 * info.weightBytes;
    const bitsPerWeight = quantize === 'int4' ? 5 : 9;
    return Math.ceil(info.weightBytes * (1 + (2 * bitsPerWeight) / 32));
  }

  /** Runs `fn` with the model loaded; the model is not unloaded while `fn` runs. */
  async use<T>(entry: ModelEntry, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
    const slot = await this.acquire(entry);
    try {
      return await fn(slot.model!);
    } finally {
      slot.users--;
      slot.lastUsed = Date.now();
    }
  }

  /** Takes a use of the model (loading it first); call the returned release when done. */
  async hold(entry: ModelEntry): Promise<{ model: LoadedModel; release: () => void }> {
    const slot = await this.acquire(entry);
    let released = false;
    return {
      model: slot.model!,
      release: () => {
        if (released) return;
        released = true;
        slot.users--;
        slot.lastUsed = Date.now();
      },
    };
  }

  private async acquire(entry: ModelEntry): Promise<Slot> {
    let slot = this.slots.get(entry.name);
    if (
      slot?.model &&
      (slot.model.entry.path !== entry.path || slot.model.entry.quantize !== entry.quantize)
    ) {
      await this.unload(entry.name);
      slot = undefined;
    }
    if (!slot) {
      slot = { users: 0, lastUsed: Date.now(), bytes: 0 };
      this.slots.set(entry.name, slot);
    }
    slot.users++;
    try {
      if (!slot.model) {
        slot.loading ??= this.load(entry, slot);
        await slot.loading;
      }
    } catch (err) {
      slot.users--;
      if (this.slots.get(entry.name) === slot && !slot.model) this.slots.delete(entry.name);
      throw err;
    }
    return slot;
  }

  private async load(entry: ModelEntry, slot: Slot): Promise<LoadedModel> {
    const t0 = performance.now();
    const info = describeFolder(entry.path, 'model');
    const need = ModelPool.estimateBytes(info, entry.quantize);
    await this.makeRoom(need, entry.name);
    slot.bytes = need;
    const tokenizer = loadFolderTokenizer(entry.path, entry.builtinTokenizer);
    if (tokenizer.vocabSize > info.cfg.vocabSize)
      throw new LabError(
        'FAILED_PRECONDITION',
        `model: the tokenizer of ${entry.name} has ${tokenizer.vocabSize} ids but the model only ${info.cfg.vocabSize}`,
        'model',
      );
    let lm: InferenceModel;
    try {
      lm = await loadInferenceModel(
        entry.path,
        entry.quantize ? { quantize: entry.quantize, quantCache: this.opts.quantCache } : {},
      );
    } catch (err) {
      throw new LabError(
        'FAILED_PRECONDITION',
        `model: ${entry.name} could not be loaded: ${(err as Error).message}`,
        'model',
      );
    }
    // The budget holds what the model really took once loaded.
    slot.bytes = Math.max(lm.memory.total, info.weightBytes);
    const tc = info.tokenizerConfig;
    const bosToken = addedTokenText(tc?.bos_token);
    const eosToken = addedTokenText(tc?.eos_token);
    const bosId =
      tc?.add_bos_token && bosToken !== undefined ? tokenizer.specialTokens.get(bosToken) : undefined;
    const model: LoadedModel = {
      entry,
      info,
      lm,
      tokenizer,
      eosIds: eosIdsOf(info, tokenizer, eosToken),
      bosId,
      bosToken,
      eosToken,
      bytes: slot.bytes,
      loadMs: performance.now() - t0,
    };
    slot.model = model;
    slot.loading = undefined;
    const q = lm.quantization;
    this.opts.log?.info(`loaded ${entry.name}`, {
      ms: Math.round(model.loadMs),
      mb: Math.round(need / MB),
      ...(q ? { quantized: `${q.format}, ${q.fromCache ? 'codes from the cache' : 'quantised now'}` } : {}),
    });
    return model;
  }

  /** Unloads idle models, least recently used first, until `need` more bytes fit the budget. */
  private async makeRoom(need: number, name: string): Promise<void> {
    if (need > this.memoryBytes)
      throw new LabError(
        'RESOURCE_EXHAUSTED',
        `model: ${name} needs ~${Math.ceil(need / MB)} MiB loaded, more than the memory budget of ${Math.floor(this.memoryBytes / MB)} MiB (LAB_INFER_MEMORY_MB)`,
        'model',
      );
    const used = () => [...this.slots.values()].reduce((a, s) => a + s.bytes, 0);
    const idle = [...this.slots.entries()]
      .filter(([, s]) => s.model && s.users === 0)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (used() + need > this.memoryBytes && idle.length) await this.unload(idle.shift()![0]);
    if (used() + need > this.memoryBytes)
      throw new LabError(
        'RESOURCE_EXHAUSTED',
        `model: ${name} needs ~${Math.ceil(need / MB)} MiB and the models in use hold ${Math.ceil(used() / MB)} of the ${Math.floor(this.memoryBytes / MB)} MiB budget (LAB_INFER_MEMORY_MB); try again when they finish`,
        'model',
      );
  }

  /** Frees a model now (requests using it finish first). Returns whether it was loaded. */
  async unload(name: string): Promise<boolean> {
    const slot = this.slots.get(name);
    if (!slot?.model) return false;
    this.slots.delete(name);
    const model = slot.model;
    while (slot.users > 0) await new Promise((r) => setTimeout(r, 20));
    await model.lm.release();
    this.opts.log?.info(`unloaded ${name}`);
    return true;
  }

  private async unloadIdle(): Promise<void> {
    const now = Date.now();
    for (const [name, s] of [...this.slots])
      if (s.model && s.users === 0 && now - s.lastUsed > this.idleMs) await this.unload(name);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const name of [...this.slots.keys()]) await this.unload(name);
  }
}
