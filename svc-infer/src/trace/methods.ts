// The gRPC methods of tracing (Trace, ExportActivations, Ablate, Patch, Probe): admission like generation, the model
// held from the pool for the whole run, its trace session from Tracers.
import { type CallContext, LabError } from '@lab/common';
import { type AblationMode, ablate, type Component, traceSafetensors } from '@lab/engine';
import type {
  AblateRequest,
  AblateResponse,
  FileChunk,
  PatchRequest,
  ProbeRequest,
  TraceEvent,
  TraceRequest,
} from '@lab/proto/infer';
import type { Limiter } from '../generate/limiter.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import type { LoadedModel, ModelPool } from '../models/pool.ts';
import { runPatch, runProbe } from './experiments.ts';
import { checkSource, promptTokens, resolveTokens } from './input.ts';
import { checkProbeSource, datasetExamples, type ReadDocuments } from './probe-dataset.ts';
import { attentionLayers, checkTraceOptions, traceEvents } from './trace.ts';
import type { Tracers } from './tracers.ts';

export interface TraceDeps {
  catalog: ModelCatalog;
  pool: ModelPool;
  limiter: Limiter;
  tracers: Tracers;
  /** A svc-data version's documents (dataset probes). */
  readDocuments: ReadDocuments;
}

/** gRPC streams are cut in pieces well under the message limit. */
const CHUNK = 1 << 20;

export function traceMethods(d: TraceDeps) {
  /** Runs `fn` with admission and the model held. */
  async function withModel<T>(
    name: string,
    ctx: CallContext,
    fn: (m: LoadedModel) => Promise<T>,
  ): Promise<T> {
    const entry = await d.catalog.resolve(name);
    const release = await d.limiter.acquire(ctx.signal);
    try {
      return await d.pool.use(entry, fn);
    } finally {
      release();
    }
  }

  async function trace(req: TraceRequest, ctx: CallContext) {
    checkSource(req);
    checkTraceOptions(req);
    return withModel(req.model, ctx, async (model) => {
      const ids = resolveTokens(model, req);
      const layers = attentionLayers(req, model.info.cfg.nLayer);
      const tracer = await d.tracers.get(model);
      return { model, layers, raw: await tracer.run(ids, { topK: req.topK || 5, lens: !req.skipLens }) };
    });
  }

  return {
    trace: async function* (req: TraceRequest, ctx: CallContext): AsyncGenerator<TraceEvent> {
      const { model, layers, raw } = await trace(req, ctx);
      yield* traceEvents(model, raw, layers);
    },

    exportActivations: async function* (req: TraceRequest, ctx: CallContext): AsyncGenerator<FileChunk> {
      // The file holds no logit lens: the run need not compute it.
      const { model, raw } = await trace({ ...req, skipAttention: true, skipLens: true }, ctx);
      const bytes = traceSafetensors(raw, model.info.cfg);
      for (let at = 0; at < bytes.length; at += CHUNK)
        yield { data: Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(CHUNK, bytes.length - at)) };
    },

    ablate: async (req: AblateRequest, ctx: CallContext): Promise<AblateResponse> => {
      checkSource(req);
      if (req.mode !== 'zero' && req.mode !== 'mean')
        throw new LabError(
          'INVALID_ARGUMENT',
          `mode: "zero" or "mean" (got ${JSON.stringify(req.mode)})`,
          'mode',
        );
      if (!req.components.length)
        throw new LabError('INVALID_ARGUMENT', 'components: name at least one head or MLP', 'components');
      const parts: Component[] = req.components.map((c) => ({
        layer: c.layer,
        head: c.mlp ? undefined : c.head,
      }));
      return withModel(req.model, ctx, async (model) => {
        const ids = resolveTokens(model, req);
        const tracer = await d.tracers.get(model);
        let res: Awaited<ReturnType<typeof ablate>>;
        try {
          res = await ablate(tracer, ids, parts, req.mode as AblationMode);
        } catch (err) {
          // The engine names the bad component (components[i].layer / .head).
          if (err instanceof RangeError) throw new LabError('INVALID_ARGUMENT', err.message, 'components');
          throw err;
        }
        const mean = (x: Float32Array) => (x.length ? x.reduce((a, b) => a + b, 0) / x.length : 0);
        return {
          tokens: promptTokens(model, ids),
          baseLoss: Array.from(res.base),
          ablatedLoss: Array.from(res.ablated),
          delta: Array.from(res.ablated, (x, i) => x - res.base[i]),
          baseMean: mean(res.base),
          ablatedMean: mean(res.ablated),
        };
      });
    },

    patch: (req: PatchRequest, ctx: CallContext) =>
      withModel(req.model, ctx, async (model) => runPatch(model, await d.tracers.get(model), req, ctx)),

    probe: async (req: ProbeRequest, ctx: CallContext) => {
      // A dataset's documents are read before the model is taken: no model waits on svc-data.
      checkProbeSource(req);
      const examples = req.datasetId ? await datasetExamples(d.readDocuments, req, ctx.signal) : undefined;
      return withModel(req.model, ctx, async (model) =>
        runProbe(model, await d.tracers.get(model), req, ctx, examples),
      );
    },
  };
}
