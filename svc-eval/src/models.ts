// Models for scoring: svc-eval asks svc-infer (over gRPC) what a model name stands for, and loads it with
// svc-infer's own ModelPool, so a model is read and checked exactly as for generation, with no second
// loader. Scoring runs the engine in this process because log-likelihoods of whole prompts are what it is
// fast at; generation (HumanEval, judged answers) goes to svc-infer.
import { callUnary, createClient, fromServiceError, LabError } from '@lab/common';
import { InferServiceClient, type ModelInfo } from '@lab/proto/infer';
import { type LoadedModel, ModelPool } from '@lab/svc-infer';
import type { ScoringModel } from './score/loglik.ts';

export interface ResolvedModel {
  info: ModelInfo;
}

export class EvalModels {
  readonly pool: ModelPool;

  constructor(
    private readonly inferAddress: string,
    opts: { memoryBytes?: number; idleMs?: number } = {},
  ) {
    this.pool = new ModelPool({ memoryBytes: opts.memoryBytes, idleMs: opts.idleMs ?? 60_000 });
  }

  /** svc-infer's description of a model; NOT_FOUND names the model. */
  async describe(name: string): Promise<ModelInfo> {
    if (!name) throw new LabError('INVALID_ARGUMENT', 'model: required', 'model');
    const client = createClient(InferServiceClient, this.inferAddress);
    try {
      return await callUnary(client.getModel.bind(client), { name }, { deadline: Date.now() + 10_000 });
    } catch (err) {
      const e = fromServiceError(err);
      if (e.code === 'NOT_FOUND')
        throw new LabError('NOT_FOUND', `model: ${e.message.replace(/^\w+: /, '')}`, 'model');
      if (e.code === 'UNAVAILABLE')
        throw new LabError(
          'UNAVAILABLE',
          `model: svc-infer cannot be reached to resolve ${name} (${e.message})`,
          'model',
        );
      throw e;
    } finally {
      client.close();
    }
  }

  async use<T>(
    info: ModelInfo,
    fn: (m: LoadedModel, scoring: ScoringModel & { hasEmptyContextToken: boolean }) => Promise<T>,
  ): Promise<T> {
    return this.pool.use(
      {
        name: info.name,
        source: info.source === 'checkpoint' ? 'checkpoint' : 'registered',
        path: info.path,
        createdAt: info.createdAt,
      },
      async (m) => {
        const eot = [...m.eosIds][0] ?? m.bosId;
        return fn(m, {
          lm: m.lm,
          tokenizer: m.tokenizer,
          emptyContextToken: eot ?? 0,
          hasEmptyContextToken: eot !== undefined,
        });
      },
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
