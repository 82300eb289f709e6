import { createInterface } from 'node:readline/promises';
import {
  type CliValues,
  cliBackend,
  infoCommand,
  LabError,
  localCallContext,
  remoteOption,
  runCli,
  serveCommand,
} from '@lab/common';
import {
  type ChatMessage,
  type GenerateEvent,
  InferServiceClient,
  InferServiceService,
  type ModelInfo,
  SamplingParams,
} from '@lab/proto/infer';
import { adaptersCommand } from './adapters/cli.ts';
import { createInferImpl } from './service.ts';

const backend = (values: CliValues) =>
  cliBackend(values, 'infer', InferServiceService, InferServiceClient, (deps) => createInferImpl(deps).impl);

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

function numberFlag(values: CliValues, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
    throw new LabError('INVALID_ARGUMENT', `--${name}: must be a number (got ${JSON.stringify(v)})`, name);
  return n;
}

const samplingOptions = {
  model: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  n: { type: 'string' },
  beams: { type: 'string' },
  stop: { type: 'string', multiple: true },
  logprobs: { type: 'string' },
  json: { type: 'boolean' },
  ...remoteOption,
} as const;

const samplingHelp = {
  model: 'model name (lab-infer models lists them)',
  'max-tokens': 'new tokens per sample (default 128)',
  temperature: '0 = greedy (default 1)',
  'top-k': 'keep the k most likely tokens (0 = off)',
  'top-p': 'nucleus threshold (1 = off)',
  'min-p': 'keep tokens ≥ min-p × the top one',
  'repetition-penalty': 'Hugging Face repetition penalty (1 = off)',
  seed: 'sampler seed: same seed, same text',
  n: 'independent samples (1-8)',
  beams: 'beam search with this many beams',
  stop: 'stop string (repeatable)',
  logprobs: 'top alternatives per token to report (0-20; with --json)',
  json: 'print every event as JSON lines',
};

function paramsOf(values: CliValues): SamplingParams {
  return SamplingParams.fromPartial({
    maxTokens: numberFlag(values, 'max-tokens') ?? 0,
    temperature: numberFlag(values, 'temperature'),
    topK: numberFlag(values, 'top-k') ?? 0,
    topP: numberFlag(values, 'top-p'),
    minP: numberFlag(values, 'min-p') ?? 0,
    repetitionPenalty: numberFlag(values, 'repetition-penalty'),
    seed: numberFlag(values, 'seed'),
    n: numberFlag(values, 'n') ?? 0,
    numBeams: numberFlag(values, 'beams') ?? 0,
    stop: (values.stop as string[] | undefined) ?? [],
    topLogprobs: numberFlag(values, 'logprobs') ?? 0,
  });
}

/** Streams events to the terminal (text as it comes, samples separated) or as JSON lines. */
async function printStream(events: AsyncIterable<GenerateEvent>, json: boolean, echo = ''): Promise<string> {
  let text = '';
  let sample = -1;
  for await (const e of events) {
    if (json) {
      out(JSON.stringify({ [e.event!.$case]: e.event!.value }));
      continue;
    }
    const ev = e.event;
    if (ev?.$case === 'token') {
      if (ev.value.sample !== sample) {
        if (sample >= 0) process.stdout.write('\n');
        sample = ev.value.sample;
        process.stdout.write(echo);
      }
      process.stdout.write(ev.value.text);
      text += ev.value.text;
    } else if (ev?.$case === 'done') {
      const d = ev.value;
      d.beams.forEach((b, k) => {
        out(`[beam ${k + 1}] score ${b.score.toFixed(3)}: ${JSON.stringify(b.text)}`);
      });
      process.stderr.write(
        `\n[${d.finishReason}${d.stop ? ` at ${JSON.stringify(d.stop)}` : ''}; ${d.promptTokens} prompt + ${d.completionTokens} tokens; first token ${d.firstTokenMs.toFixed(0)} ms; ${d.tokensPerSecond.toFixed(1)} tokens/s]\n`,
      );
    }
  }
  return text;
}

function printModel(m: ModelInfo): void {
  const size =
    m.parameters >= 1e6 ? `${(m.parameters / 1e6).toFixed(1)}M` : `${(m.parameters / 1e3).toFixed(0)}K`;
  out(
    `${m.name.padEnd(32)} ${m.source.padEnd(10)} ${(m.architecture || '?').padEnd(18)} ${size.padStart(7)} params  ctx ${String(m.context).padStart(5)}  ${(m.quantize || 'fp32').padEnd(4)}  ${m.loaded ? 'loaded' : ''}`,
  );
}

await runCli('lab-infer', 'models: register, generate and chat (streaming)', {
  models: {
    summary: 'List registered models and the checkpoints of training jobs',
    usage: 'models [--json] [--remote host:port]',
    options: { json: { type: 'boolean' }, ...remoteOption },
    run: async (values) => {
      const { models } = await backend(values).listModels({}, localCallContext());
      if (values.json) out(JSON.stringify(models, null, 2));
      else if (!models.length) out('no models yet: `lab-infer import DIR --name NAME`, or train a job');
      else models.forEach(printModel);
    },
  },
  import: {
    summary: 'Register a model directory (lab checkpoint or Hugging Face folder) under a name',
    usage: 'import PATH --name NAME [--quantize int8|int4] [--remote host:port]',
    options: { name: { type: 'string' }, quantize: { type: 'string' }, ...remoteOption },
    help: {
      name: 'name to serve it under',
      quantize: 'decode with 8- or 4-bit linear weights (quantised at load); default float32',
    },
    run: async (values, positionals) => {
      const path = positionals[0];
      if (!path)
        throw new LabError('INVALID_ARGUMENT', 'give the model directory as the first argument', 'path');
      if (typeof values.name !== 'string')
        throw new LabError('INVALID_ARGUMENT', '--name is required', 'name');
      const quantize = typeof values.quantize === 'string' ? values.quantize : '';
      printModel(
        await backend(values).importModel({ name: values.name, path, quantize }, localCallContext()),
      );
    },
  },
  generate: {
    summary: 'Continue a prompt, streaming tokens',
    usage: 'generate --model NAME [sampling options] PROMPT',
    options: samplingOptions,
    help: samplingHelp,
    run: async (values, positionals) => {
      if (typeof values.model !== 'string')
        throw new LabError('INVALID_ARGUMENT', '--model is required', 'model');
      const prompt = positionals.join(' ');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      await printStream(
        backend(values).generate(
          { model: values.model, prompt, messages: [], params: paramsOf(values) },
          localCallContext(ac.signal),
        ),
        values.json === true,
        prompt,
      );
    },
  },
  chat: {
    summary: 'Chat in the terminal with streaming answers (Ctrl-D ends)',
    usage: 'chat --model NAME [--system TEXT] [sampling options]',
    options: { ...samplingOptions, system: { type: 'string' } },
    help: { ...samplingHelp, system: 'system prompt' },
    run: async (values) => {
      if (typeof values.model !== 'string')
        throw new LabError('INVALID_ARGUMENT', '--model is required', 'model');
      const svc = backend(values);
      const messages: ChatMessage[] = [];
      if (typeof values.system === 'string') messages.push({ role: 'system', content: values.system });
      const rl = createInterface({ input: process.stdin, terminal: false });
      let conversationId = '';
      try {
        process.stdout.write('you> ');
        for await (const line of rl) {
          if (!line.trim()) {
            process.stdout.write('you> ');
            continue;
          }
          messages.push({ role: 'user', content: line });
          process.stdout.write('model> ');
          const events = svc.chat(
            // A long conversation keeps its latest turns: the start is cut to fit the context.
            {
              model: values.model,
              messages,
              params: { ...paramsOf(values), truncate: true },
              conversationId,
              ephemeral: false,
            },
            localCallContext(),
          );
          let answer = '';
          for await (const e of events) {
            const ev = e.event;
            if (ev?.$case === 'token') {
              process.stdout.write(ev.value.text);
              answer += ev.value.text;
            } else if (ev?.$case === 'done' && ev.value.sample === 0)
              conversationId = ev.value.conversationId;
          }
          process.stdout.write('\nyou> ');
          messages.push({ role: 'assistant', content: answer });
        }
        process.stdout.write('\n');
      } finally {
        rl.close();
      }
    },
  },
  adapters: adaptersCommand(backend),
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand('infer', InferServiceClient),
});
