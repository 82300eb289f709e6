import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  bindService,
  type CallContext,
  callUnary,
  confinePath,
  createClient,
  LabError,
  readVersionDocuments,
  type ServiceBinding,
  type ServiceDeps,
  type ServiceImpl,
} from '@lab/common';
import { removeQuantCache } from '@lab/engine';
import type { GenerateEvent, GenerateRequest, ModelInfo, SamplingParams } from '@lab/proto/infer';
import { InferServiceService } from '@lab/proto/infer';
import { TrainServiceClient } from '@lab/proto/train';
import { exportAdapter, exportModel } from './adapters/export.ts';
import { mergeAndReport } from './adapters/merge.ts';
import { AdapterRegistry } from './adapters/registry.ts';
import { ChatStore } from './chat/store.ts';
import { validateParams } from './generate/choose.ts';
import { Limiter } from './generate/limiter.ts';
import { prepare } from './generate/prepare.ts';
import { runGeneration } from './generate/run.ts';
import { type JobLister, ModelCatalog, type ModelEntry } from './models/catalog.ts';
import { describeFolder } from './models/folder.ts';
import { ModelPool } from './models/pool.ts';
import { traceMethods } from './trace/methods.ts';
import { Tracers } from './trace/tracers.ts';

/** A folder's real path; its path as given, resolved, once it is gone (links can no longer be followed). */
function realFolder(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Subject of the event published when a generation ends (finish reason, token counts, timings). */
export const GENERATION_SUBJECT = 'lab.infer.generation';

export interface InferServiceOptions {
  /** Lists svc-train's jobs (default: ListJobs over gRPC at the configured address). */
  listJobs?: JobLister;
  memoryBytes?: number;
  idleMs?: number;
  maxActive?: number;
  maxQueue?: number;
}

function trainJobLister(address: string): JobLister {
  return async () => {
    const client = createClient(TrainServiceClient, address);
    try {
      const res = await callUnary(
        client.listJobs.bind(client),
        { state: '', page: { offset: 0, limit: 1000 } },
        {
          deadline: Date.now() + 3000,
        },
      );
      return res.jobs;
    } catch {
      // Without svc-train the registry still serves imported models.
      return undefined;
    } finally {
      client.close();
    }
  };
}

export interface InferImpl {
  impl: ServiceImpl<typeof InferServiceService>;
  pool: ModelPool;
  catalog: ModelCatalog;
  limiter: Limiter;
  tracers: Tracers;
  adapters: AdapterRegistry;
  close(): Promise<void>;
}

export function createInferImpl(
  deps: Pick<ServiceDeps, 'bus' | 'store' | 'config' | 'log'>,
  options: InferServiceOptions = {},
): InferImpl {
  const cfg = deps.config.infer ?? {};
  const catalog = new ModelCatalog(
    deps.store,
    options.listJobs ?? trainJobLister(deps.config.addresses.train),
  );
  const quantCache = join(deps.config.home, 'infer', 'quantized');
  const pool = new ModelPool({
    memoryBytes: options.memoryBytes ?? (cfg.memoryMb ? cfg.memoryMb * 1024 * 1024 : undefined),
    idleMs: options.idleMs ?? cfg.idleMs,
    log: deps.log,
    quantCache,
  });
  const limiter = new Limiter(
    options.maxActive ?? cfg.maxActive ?? 8,
    options.maxQueue ?? cfg.maxQueue ?? 32,
  );
  const adapters = new AdapterRegistry(deps.store, catalog, join(deps.config.home, 'infer', 'adapters'));
  catalog.serveAdapters({ entries: () => adapters.modelEntries(), entry: (n) => adapters.entry(n) });
  const chats = new ChatStore(deps.store);
  const tracers = new Tracers(pool);

  const describe = (e: ModelEntry): ModelInfo => {
    let info: ReturnType<typeof describeFolder> | undefined;
    try {
      info = describeFolder(e.path, 'model');
    } catch {
      info = undefined;
    }
    return {
      name: e.name,
      source: e.source,
      path: e.path,
      family: info?.cfg.family ?? '',
      architecture: info?.architecture ?? '',
      parameters: info?.parameters ?? 0,
      context: info?.cfg.blockSize ?? 0,
      vocabSize: info?.cfg.vocabSize ?? 0,
      dtype: info?.dtype ?? '',
      loaded: pool.isLoaded(e.name),
      memoryBytes: info ? ModelPool.estimateBytes(info, e.quantize) : 0,
      hasChatTemplate: !!info?.chatTemplate,
      createdAt: e.createdAt,
      jobId: e.jobId ?? '',
      step: e.step ?? 0,
      valLoss: e.valLoss ?? 0,
      tokenizer: '',
      quantize: e.quantize ?? '',
      decoding: pool.decoding(e.name),
    };
  };

  /** One generation with admission, the model held for its whole run, and an event when it ends. */
  async function* generate(
    req: GenerateRequest,
    ctx: CallContext,
    onText?: (text: string) => Promise<string>,
  ): AsyncGenerator<GenerateEvent> {
    validateParams(req.params);
    const entry = await catalog.resolve(req.model);
    const release = await limiter.acquire(ctx.signal);
    try {
      const { model, release: unhold } = await pool.hold(entry);
      try {
        validateParams(req.params, model.info.cfg.vocabSize);
        const prep = prepare(model, req);
        if (prep.preflight.problem)
          throw new LabError(
            'INVALID_ARGUMENT',
            `prompt: ${prep.preflight.problem}`,
            req.messages.length ? 'messages' : 'prompt',
          );
        const started = Date.now();
        // The exchange is stored when the answer ends, stopped answers too (the text so far).
        let saved: Promise<string> | undefined;
        for await (const e of runGeneration(model, prep, req.params, {
          signal: ctx.signal,
          onDone: (d) => {
            if (onText && d.sample === 0) {
              saved = onText(d.text);
              saved.catch((err) =>
                deps.log.warn(`could not store the conversation: ${(err as Error).message}`),
              );
            }
            void deps.bus
              .publish(GENERATION_SUBJECT, {
                model: entry.name,
                sample: d.sample,
                finishReason: d.finishReason,
                promptTokens: prep.ids.length,
                completionTokens: d.completionTokens,
                ms: Date.now() - started,
              })
              .catch(() => {});
          },
        })) {
          if (e.event?.$case === 'done' && e.event.value.sample === 0 && saved)
            e.event.value.conversationId = await saved;
          yield e;
        }
      } finally {
        unhold();
      }
    } finally {
      release();
    }
  }

  const impl: ServiceImpl<typeof InferServiceService> = {
    importModel: async (req) => {
      if (req.path) confinePath(req.path, 'path', deps.config.dataRoots);
      return describe(await catalog.register(req.name, req.path, req.quantize));
    },
    listModels: async () => ({ models: (await catalog.list()).map(describe) }),
    getModel: async (req) => describe(await catalog.resolve(req.name, 'name')),
    deleteModel: async (req) => {
      const entry = await catalog.remove(req.name);
      await pool.unload(req.name);
      await tracers.drop(req.name);
      // Its quantised codes go too, but not those another registration of the folder still decodes from.
      // Folders compare as the cache names them, by real path: a registration through a link decodes from
      // the same files. The catalog entry is gone already, so a file left behind is only a warning.
      if (entry.quantize) {
        const folder = realFolder(entry.path);
        const keep = (await catalog.list()).flatMap((e) =>
          e.quantize && realFolder(e.path) === folder ? [e.quantize] : [],
        );
        await removeQuantCache(quantCache, entry.path, keep).catch((err: unknown) =>
          deps.log.warn(`could not remove the quantised codes of '${entry.name}': ${(err as Error).message}`),
        );
      }
      return describe(entry);
    },
    unloadModel: async (req) => {
      const entry = await catalog.resolve(req.name, 'name');
      await pool.unload(req.name);
      await tracers.drop(req.name);
      return describe(entry);
    },
    preflight: async (req) => {
      validateParams(req.params);
      const entry = await catalog.resolve(req.model);
      return pool.use(entry, async (model) => {
        validateParams(req.params, model.info.cfg.vocabSize);
        return prepare(model, req).preflight;
      });
    },
    generate: (req, ctx) => generate(req, ctx),
    chat: (req, ctx) => {
      if (!req.ephemeral) chats.requireConversation(req.conversationId);
      return generate(
        { model: req.model, prompt: '', messages: req.messages, params: req.params as SamplingParams },
        ctx,
        req.ephemeral
          ? undefined
          : async (text) =>
              (
                await chats.saveExchange(req.conversationId, req.model, [
                  ...req.messages,
                  { role: 'assistant', content: text },
                ])
              ).id,
      );
    },
    listConversations: async () => ({ conversations: chats.listConversations() }),
    getConversation: async (req) => chats.getConversation(req.id),
    renameConversation: async (req) => chats.rename(req.id, req.title),
    deleteConversation: async (req) => chats.deleteConversation(req.id),
    listPrompts: async () => ({ prompts: chats.listPrompts() }),
    savePrompt: async (req) => chats.savePrompt(req),
    deletePrompt: async (req) => chats.deletePrompt(req.name),
    ...traceMethods({
      catalog,
      pool,
      limiter,
      tracers,
      readDocuments: (req) => readVersionDocuments(deps.config.addresses.data, req),
    }),
    importAdapter: async (req) => {
      const path = req.path ? confinePath(req.path, 'path', deps.config.dataRoots) : req.path;
      return adapters.register(req.name, path, req.base);
    },
    listAdapters: async (req) => ({ adapters: await adapters.list(req.base) }),
    getAdapter: async (req) => adapters.get(req.name),
    deleteAdapter: async (req) => {
      const info = await adapters.remove(req.name);
      await pool.unload(req.name);
      await tracers.drop(req.name);
      return info;
    },
    exportAdapter: async (req) => {
      if (!req.path) throw new LabError('INVALID_ARGUMENT', 'path: required', 'path');
      return exportAdapter(adapters, catalog, req.name, confinePath(req.path, 'path', deps.config.dataRoots));
    },
    exportModel: async (req) => {
      if (!req.path) throw new LabError('INVALID_ARGUMENT', 'path: required', 'path');
      return exportModel(catalog, req.name, confinePath(req.path, 'path', deps.config.dataRoots));
    },
    mergeAdapters: async (req) => {
      const r = await mergeAndReport(req, { catalog, registry: adapters, pool, home: deps.config.home });
      return { model: describe(r.entry), adapter: r.adapter, fidelity: r.fidelity };
    },
  };
  return {
    impl,
    pool,
    catalog,
    limiter,
    tracers,
    adapters,
    close: async () => {
      await tracers.close();
      await pool.close();
    },
  };
}

/** The gRPC binding of svc-infer. */
export function buildInferService(deps: ServiceDeps): ServiceBinding {
  return bindService(InferServiceService, createInferImpl(deps).impl);
}
