import {
  bindService,
  type CallContext,
  callUnary,
  confinePath,
  createClient,
  fetchTokenizerJson,
  fromServiceError,
  LabError,
  openWorkQueue,
  readVersionDocuments,
  remoteImpl,
  type ServiceBinding,
  type ServiceDeps,
  type ServiceImpl,
  type WorkQueue,
} from '@lab/common';
import { DataServiceClient, DataServiceService, type TokenChunk } from '@lab/proto/data';
import { GenerateRequest, InferServiceClient, InferServiceService } from '@lab/proto/infer';
import { type CheckpointInfo, type Job, type JobEvent, TrainServiceService } from '@lab/proto/train';
import { checkEosSurvival, type EosSurvivalDeps } from './finetune/eos-survival.ts';
import { estimateFinetuneRequest } from './finetune/estimate.ts';
import { previewFinetune } from './finetune/preview.ts';
import { bestStep, describeRetention } from './jobs/checkpoints.ts';
import { collectTokens } from './jobs/dataset-tokens.ts';
import { estimate, listPresets } from './jobs/estimate.ts';
import { JobManager, type QueueMessage } from './jobs/manager.ts';
import type { JobPoint, JobRecord } from './jobs/types.ts';
import { specToRequest } from './jobs/validate.ts';
import { jobVocab, type VocabDeps } from './jobs/vocab.ts';

/** Name of the work queue every svc-train process shares (JetStream stream WORK_TRAIN_JOBS). */
export const TRAIN_QUEUE = 'train-jobs';

export interface TrainServiceOptions {
  /** A queue to use instead of opening one from the config (tests share one in-process queue this way). */
  queue?: WorkQueue<QueueMessage>;
  /** Jobs run at once by this process (default LAB_TRAIN_CONCURRENCY or 1). */
  concurrency?: number;
  /** Claim lease of a running job (default LAB_TRAIN_LEASE_MS or 10 s). */
  leaseMs?: number;
  /** Ack wait of the JetStream consumer (default LAB_TRAIN_ACK_WAIT_MS or max(30 s, 3 leases)). */
  ackWaitMs?: number;
  workerId?: string;
}

/** The kept checkpoints with step, validation loss and whether each is the best one kept. */
function checkpointInfo(r: JobRecord): CheckpointInfo[] {
  const list: { dir: string; step: number; valLoss?: number }[] =
    r.checkpointInfo ??
    r.checkpoints.map((dir) => ({ dir, step: Number(/step-(\d+)$/.exec(dir)?.[1] ?? 0) }));
  const best = r.spec.keepBest ? bestStep(list) : undefined;
  return list.map((c) => ({ dir: c.dir, step: c.step, valLoss: c.valLoss, best: c.step === best }));
}

export function toJob(r: JobRecord): Job {
  return {
    id: r.id,
    name: r.spec.name,
    state: r.state,
    step: r.step,
    iters: r.spec.iters,
    error: r.error,
    request: specToRequest(r.spec),
    checkpoints: r.checkpoints,
    checkpointInfo: checkpointInfo(r),
    retention: describeRetention({ keepLast: r.spec.keepLast ?? 2, keepBest: r.spec.keepBest ?? false }),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    lastSeq: r.lastSeq,
    pendingAction: r.pendingAction,
    worker: r.worker,
    attempts: r.attempts,
    loss: r.loss,
    valLoss: r.valLoss,
    vocabSize: r.vocabSize,
    parameters: r.parameters,
  };
}

export function toEvent(p: JobPoint): JobEvent {
  return {
    seq: p.seq,
    kind: p.kind,
    step: p.step,
    state: p.state,
    time: p.time,
    loss: p.loss ?? 0,
    lr: p.lr ?? 0,
    gradNorm: p.gradNorm ?? 0,
    tokensPerSecond: p.tokensPerSecond ?? 0,
    elapsedSeconds: p.elapsed ?? 0,
    valLoss: p.valLoss ?? 0,
    trainLoss: p.trainLoss ?? 0,
    perplexity: p.perplexity ?? 0,
    sample: p.sample ?? '',
    message: p.message ?? '',
    preference: p.preference,
    induction: p.induction,
  };
}

/**
 * The tokenizer.json of a dataset version's shards: the first message of svc-data's ReadTokens, after which
 * the call is cancelled (the tokens themselves are not needed for an estimate).
 */
async function shardTokenizerJson(
  address: string,
  req: { datasetId: string; version: number; tokenizer: string },
): Promise<string> {
  const client = createClient(DataServiceClient, address);
  const call = client.readTokens(req);
  // Cancelling ends the stream with a CANCELLED error nobody waits for.
  call.on('error', () => {});
  try {
    for await (const chunk of call as AsyncIterable<TokenChunk>) return chunk.tokenizerJson;
    throw new LabError('INTERNAL', 'svc-data sent no tokens');
  } finally {
    call.cancel();
    client.close();
  }
}

/** The end-of-turn check's calls to svc-infer: export a servable model, and generate with a token forced. */
function inferEosDeps(address: string): EosSurvivalDeps {
  const withClient = async <T>(run: (client: InferServiceClient) => Promise<T>): Promise<T> => {
    const client = createClient(InferServiceClient, address);
    try {
      return await run(client);
    } catch (err) {
      throw fromServiceError(err);
    } finally {
      client.close();
    }
  };
  return {
    exportModel: (name, path) =>
      withClient(async (client) => {
        await callUnary(client.exportModel.bind(client), { name, path });
      }),
    generateForced: (model, prompt, endId) =>
      withClient(async (client) => {
        const req = GenerateRequest.fromPartial({
          model,
          prompt,
          // A few tokens: if the first does not end it, the forced token repeats and the answer runs on.
          params: { maxTokens: 4, temperature: 0, logitBias: { [endId]: 100 }, stopAtEos: true },
        });
        const emitted: number[] = [];
        let finishReason = '';
        for await (const e of remoteImpl(InferServiceService, client).generate!(req, undefined as never)) {
          if (e.event?.$case === 'token' && e.event.value.token) emitted.push(e.event.value.id);
          else if (e.event?.$case === 'done') finishReason = e.event.value.finishReason;
        }
        return { finishReason, emitted };
      }),
  };
}

/** The training job service and the manager behind it (tests close the manager to stop its workers). */
export async function createTrainImpl(
  deps: Pick<ServiceDeps, 'bus' | 'store' | 'config' | 'log'>,
  options: TrainServiceOptions = {},
): Promise<{ impl: ServiceImpl<typeof TrainServiceService>; manager: JobManager }> {
  const leaseMs = options.leaseMs ?? deps.config.train.leaseMs ?? 10_000;
  const ackWaitMs = options.ackWaitMs ?? deps.config.train.ackWaitMs ?? Math.max(30_000, 3 * leaseMs);
  const queue =
    options.queue ??
    (await openWorkQueue<QueueMessage>(deps.bus.kind === 'nats' ? deps.config.natsUrl : undefined, {
      name: TRAIN_QUEUE,
      ackWaitMs,
    }));
  const resolveModel = async (name: string): Promise<string> => {
    const client = createClient(InferServiceClient, deps.config.addresses.infer);
    try {
      return (await callUnary(client.getModel.bind(client), { name })).path;
    } catch (err) {
      throw fromServiceError(err);
    } finally {
      client.close();
    }
  };
  const readDocuments = async (datasetId: string, version: number): Promise<string[]> =>
    (await readVersionDocuments(deps.config.addresses.data, { datasetId, version })).documents.map(
      (d) => d.text,
    );
  const manager = new JobManager({
    home: deps.config.home,
    store: deps.store,
    bus: deps.bus,
    log: deps.log,
    queue,
    concurrency: options.concurrency ?? deps.config.train.concurrency ?? 1,
    leaseMs,
    workerId: options.workerId,
    readDatasetTokens: async (datasetId, version, tokenizer) => {
      const client = createClient(DataServiceClient, deps.config.addresses.data);
      try {
        return await collectTokens(
          remoteImpl(DataServiceService, client).readTokens!(
            { datasetId, version, tokenizer },
            undefined as never,
          ),
        );
      } finally {
        client.close();
      }
    },
    fetchTokenizer: (name) => fetchTokenizerJson(deps.config.addresses.tokenize, name),
    resolveModel,
    readDocuments,
  });
  await manager.start();
  const vocabDeps: VocabDeps = {
    shardTokenizer: (datasetId, version, tokenizer) =>
      shardTokenizerJson(deps.config.addresses.data, { datasetId, version, tokenizer }),
    fetchTokenizer: (name) => fetchTokenizerJson(deps.config.addresses.tokenize, name),
  };

  const impl: ServiceImpl<typeof TrainServiceService> = {
    submitJob: async (req) => {
      if (req.dataPath) confinePath(req.dataPath, 'dataPath', deps.config.dataRoots);
      return toJob(await manager.submit(req));
    },
    listJobs: async (req) => {
      const all = manager.list(req.state);
      const offset = req.page?.offset ?? 0;
      const limit = Math.min(req.page?.limit || 100, 1000);
      return { jobs: all.slice(offset, offset + limit).map(toJob), total: all.length };
    },
    getJob: async (req) => toJob(manager.get(req.id)),
    estimateModel: async (req) => {
      if (req.dataPath) confinePath(req.dataPath, 'dataPath', deps.config.dataRoots);
      return estimate(req, await jobVocab(req, vocabDeps));
    },
    listPresets: async () => ({ presets: listPresets() }),
    previewFinetune: async (req) => {
      if (req.job?.dataPath) confinePath(req.job.dataPath, 'dataPath', deps.config.dataRoots);
      return previewFinetune(req, { resolveModel, readDocuments });
    },
    estimateFinetune: (req) => estimateFinetuneRequest(req, { resolveModel }),
    checkFinetuneEos: async (req) => {
      const exportPath = req.exportPath
        ? confinePath(req.exportPath, 'exportPath', deps.config.dataRoots)
        : undefined;
      return checkEosSurvival(
        manager.get(req.id),
        { step: req.step, exportPath },
        inferEosDeps(deps.config.addresses.infer),
      );
    },
    cancelJob: async (req) => toJob(await manager.cancel(req.id)),
    pauseJob: async (req) => toJob(await manager.pause(req.id)),
    resumeJob: async (req) => toJob(await manager.resume(req.id)),
    watchJob: async function* (req, ctx: CallContext): AsyncGenerator<JobEvent> {
      for await (const p of manager.watch(req.id, req.afterSeq, ctx.signal)) yield toEvent(p);
    },
  };
  return { impl, manager };
}

/** The gRPC binding of svc-train: the job queue (SubmitJob … WatchJob). */
export async function buildTrainService(deps: ServiceDeps): Promise<ServiceBinding> {
  const { impl } = await createTrainImpl(deps);
  return bindService(TrainServiceService, impl);
}
