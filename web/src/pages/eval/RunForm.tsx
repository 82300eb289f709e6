// The form that starts eval runs: a model (or every checkpoint of a training job), a task with its own
// options, and the settings every run shares. The service checks the request; its message is shown next to
// the field it names.
import { createEffect, createMemo, createResource, createSignal, For, type JSX, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import {
  ApiError,
  dataApi,
  type EvalRun,
  type EvalTask,
  errorText,
  evalApi,
  type ModelInfo,
  type SubmitEvalRun,
} from '../../api.ts';
import { ModelSelect } from '../playground/ModelPicker.tsx';
import { KIND_LABELS } from './measures.ts';

/** Every field as typed (empty = the service's default). */
interface Fields {
  limit: string;
  fewshot: string;
  seed: string;
  chatTemplate: boolean;
  label: string;
  // perplexity
  source: 'textPath' | 'dataset' | 'text';
  textPath: string;
  text: string;
  dataset: string;
  split: '' | 'train' | 'val';
  context: string;
  stride: string;
  // humaneval and judge
  samples: string;
  temperature: string;
  k: string;
  maxTokens: string;
  // judge
  judgeMode: 'single' | 'pairwise';
  questions: string;
  baseline: string;
  judgeUrl: string;
  judgeKey: string;
  judgeModel: string;
  judgePrompt: string;
}

/** A checkpointed training job: its checkpoints, oldest first. */
export interface JobCheckpoints {
  jobId: string;
  name: string;
  checkpoints: ModelInfo[];
}

export function jobsOf(models: readonly ModelInfo[]): JobCheckpoints[] {
  const byJob = new Map<string, JobCheckpoints>();
  for (const m of models) {
    if (m.source !== 'checkpoint' || !m.jobId) continue;
    let j = byJob.get(m.jobId);
    if (!j) {
      j = { jobId: m.jobId, name: m.name.slice(0, m.name.lastIndexOf('@')) || m.jobId, checkpoints: [] };
      byJob.set(m.jobId, j);
    }
    j.checkpoints.push(m);
  }
  for (const j of byJob.values()) j.checkpoints.sort((a, b) => a.step - b.step);
  return [...byJob.values()];
}

const KIND_ORDER = ['multiple_choice', 'perplexity', 'generation', 'humaneval', 'judge'];

export default function RunForm(props: {
  models: readonly ModelInfo[];
  tasks: readonly EvalTask[];
  /** A model to start with (the page's ?model=). */
  initialModel?: string;
  onSubmitted: (runs: EvalRun[]) => void;
}) {
  const [target, setTarget] = createSignal<'model' | 'job'>('model');
  const [model, setModel] = createSignal(props.initialModel ?? '');
  const [job, setJob] = createSignal('');
  const [task, setTask] = createSignal('hellaswag');
  const [f, setF] = createStore<Fields>({
    limit: '',
    fewshot: '',
    seed: '',
    chatTemplate: false,
    label: '',
    source: 'textPath',
    textPath: '',
    text: '',
    dataset: '',
    split: 'val',
    context: '',
    stride: '',
    samples: '',
    temperature: '',
    k: '',
    maxTokens: '',
    judgeMode: 'single',
    questions: '',
    baseline: '',
    judgeUrl: '',
    judgeKey: '',
    judgeModel: '',
    judgePrompt: '',
  });
  const [error, setError] = createSignal<{ field?: string; message: string }>();
  const [busy, setBusy] = createSignal(false);
  const [note, setNote] = createSignal('');

  const jobs = createMemo(() => jobsOf(props.models));
  // Until one is picked: a training checkpoint (what a learner just made), else the first model.
  createEffect(() => {
    const list = props.models;
    if (!list.length || list.some((m) => m.name === model())) return;
    if (model() && model() === props.initialModel) return; // a linked model that is not listed yet
    setModel((list.find((m) => m.source === 'checkpoint') ?? list[0])!.name);
  });
  const info = () => props.tasks.find((t) => t.name === task());
  const kind = () => info()?.kind ?? '';
  const groups = createMemo(() => {
    const kinds = [...new Set(props.tasks.map((t) => t.kind))].sort(
      (a, b) => ((KIND_ORDER.indexOf(a) + 99) % 99) - ((KIND_ORDER.indexOf(b) + 99) % 99),
    );
    return kinds.map((k) => ({ kind: k, tasks: props.tasks.filter((t) => t.kind === k) }));
  });
  const chosenModel = () => props.models.find((m) => m.name === model());

  const [datasets] = createResource(
    () => kind() === 'perplexity' && f.source === 'dataset',
    () =>
      dataApi
        .list()
        .then((r) => r.datasets)
        .catch(() => []),
  );

  /** Fields the form shows for this task: a service error about another field goes to the banner. */
  const shown = (): string[] => {
    const base = ['model', 'task', 'limit', 'seed', 'chatTemplate', 'label'];
    if ((info()?.maxFewshot ?? 0) > 0) base.push('fewshot');
    if (kind() === 'perplexity')
      return [...base, 'text', 'textPath', 'datasetId', 'datasetVersion', 'split', 'context', 'stride'];
    if (kind() === 'humaneval') return [...base, 'samples', 'temperature', 'k', 'maxTokens'];
    if (kind() === 'generation') return [...base, 'maxTokens'];
    if (kind() === 'judge')
      return [
        ...base,
        'temperature',
        'maxTokens',
        'judgeMode',
        'questions',
        'baseline',
        'judgeUrl',
        'judgeKey',
        'judgeModel',
        'judgePrompt',
      ];
    return base;
  };

  const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

  /** The request for one model, or a problem with a field found before asking the service. */
  const request = (modelName: string): SubmitEvalRun => {
    const body: SubmitEvalRun = { model: modelName, task: task() };
    const put = <K extends keyof SubmitEvalRun>(k: K, v: SubmitEvalRun[K] | undefined) => {
      if (v !== undefined) body[k] = v;
    };
    const number = (field: string, s: string) => {
      const v = num(s);
      if (v !== undefined && !Number.isFinite(v)) throw { field, message: `${field}: not a number` };
      return v;
    };
    put('limit', number('limit', f.limit));
    put('fewshot', number('fewshot', f.fewshot));
    put('seed', number('seed', f.seed));
    if (f.chatTemplate) body.chatTemplate = true;
    if (f.label.trim()) body.label = f.label.trim();
    if (kind() === 'perplexity') {
      if (f.source === 'textPath') body.textPath = f.textPath.trim();
      else if (f.source === 'text') body.text = f.text;
      else {
        const [id, v] = f.dataset.split('@');
        if (!id) throw { field: 'datasetId', message: 'datasetId: pick a dataset version' };
        body.datasetId = id;
        body.datasetVersion = Number(v);
        body.split = f.split;
      }
      put('context', number('context', f.context));
      put('stride', number('stride', f.stride));
    }
    if (kind() === 'humaneval' || kind() === 'judge') {
      put('temperature', number('temperature', f.temperature));
      put('maxTokens', number('maxTokens', f.maxTokens));
    }
    if (kind() === 'generation') put('maxTokens', number('maxTokens', f.maxTokens));
    if (kind() === 'humaneval') {
      put('samples', number('samples', f.samples));
      if (f.k.trim()) {
        const ks = f.k
          .split(/[\s,]+/)
          .filter(Boolean)
          .map(Number);
        if (ks.some((k) => !Number.isInteger(k)))
          throw { field: 'k', message: 'k: whole numbers, e.g. 1, 10' };
        body.k = ks;
      }
    }
    if (kind() === 'judge') {
      body.judgeMode = f.judgeMode;
      body.questions = f.questions
        .split('\n')
        .map((q) => q.trim())
        .filter(Boolean);
      if (f.judgeMode === 'pairwise') body.baseline = f.baseline;
      for (const k of ['judgeUrl', 'judgeKey', 'judgeModel', 'judgePrompt'] as const)
        if (f[k].trim()) body[k] = f[k].trim();
    }
    return body;
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setNote('');
    let targets: ModelInfo[] | string[];
    if (target() === 'job') {
      const j = jobs().find((x) => x.jobId === job());
      if (!j) return setError({ field: 'model', message: 'Pick a training job with checkpoints.' });
      targets = j.checkpoints;
    } else {
      if (!model()) return setError({ field: 'model', message: 'Pick a model.' });
      targets = [model()];
    }
    const names = targets.map((t) => (typeof t === 'string' ? t : t.name));
    let bodies: SubmitEvalRun[];
    try {
      bodies = names.map(request);
    } catch (err) {
      return setError(err as { field: string; message: string });
    }
    setBusy(true);
    const done: EvalRun[] = [];
    try {
      for (const body of bodies) {
        if (bodies.length > 1) setNote(`Queueing ${done.length + 1} of ${bodies.length}…`);
        done.push(await evalApi.submit(body));
      }
      setNote(bodies.length > 1 ? `Queued ${done.length} runs, one per checkpoint.` : '');
    } catch (err) {
      setNote('');
      const where = bodies.length > 1 ? ` (after queueing ${done.length} of ${bodies.length})` : '';
      setError(
        err instanceof ApiError
          ? { field: err.field, message: `${err.message}${where}` }
          : { message: `${errorText(err)}${where}` },
      );
    } finally {
      setBusy(false);
      if (done.length) props.onSubmitted(done);
    }
  };

  /** The service's message under the field it names. */
  const FieldError = (p: { name: string | string[] }) => {
    const names = () => (Array.isArray(p.name) ? p.name : [p.name]);
    return (
      <Show when={error()?.field && names().includes(error()?.field ?? '') ? error() : undefined}>
        {(e) => (
          <span class="error-text small field-error" role="alert" data-testid={`eval-error-${e().field}`}>
            {e().message}
          </span>
        )}
      </Show>
    );
  };

  const numInput = (key: keyof Fields, label: JSX.Element, placeholder: string, step = '1') => (
    <label>
      {label}
      <input
        type="number"
        name={key}
        step={step}
        placeholder={placeholder}
        value={f[key] as string}
        onInput={(e) => setF(key, e.currentTarget.value as never)}
        data-testid={`eval-${key}`}
      />
      <FieldError name={key} />
    </label>
  );

  return (
    <div class="card">
      <div class="card-head">
        <h2>New evaluation</h2>
      </div>
      <form class="form eval-form" data-testid="eval-form" onSubmit={(e) => void submit(e)}>
        <fieldset class="radio-row">
          <legend>Evaluate</legend>
          <label class="inline">
            <input
              type="radio"
              name="target"
              checked={target() === 'model'}
              onChange={() => setTarget('model')}
              data-testid="eval-target-model"
            />{' '}
            one model
          </label>
          <label class="inline">
            <input
              type="radio"
              name="target"
              checked={target() === 'job'}
              onChange={() => setTarget('job')}
              disabled={!jobs().length}
              data-testid="eval-target-job"
            />{' '}
            every checkpoint of a training job
            <Show when={!jobs().length}>
              <span class="muted small">(none yet: train one on the Train page)</span>
            </Show>
          </label>
        </fieldset>
        <div class="eval-form-top">
          <div class="eval-field">
            <Show when={target() === 'model'} fallback="Training job">
              Model
            </Show>
            <Show
              when={target() === 'model'}
              fallback={
                <select
                  value={job()}
                  onChange={(e) => setJob(e.currentTarget.value)}
                  data-testid="eval-job"
                  aria-label="Training job"
                >
                  <option value="">— pick a job —</option>
                  <For each={jobs()}>
                    {(j) => (
                      <option value={j.jobId}>
                        {j.name} ({j.checkpoints.length} checkpoints: steps{' '}
                        {j.checkpoints.map((c) => c.step.toLocaleString()).join(', ')})
                      </option>
                    )}
                  </For>
                </select>
              }
            >
              <ModelSelect models={props.models} value={model()} onChange={setModel} testId="eval-model" />
            </Show>
            <FieldError name="model" />
          </div>
          <label>
            Task
            <select
              value={task()}
              onChange={(e) => setTask(e.currentTarget.value)}
              data-testid="eval-task"
              aria-label="Task"
            >
              <Show when={!info()}>
                <option value={task()}>{props.tasks.length ? 'pick a task' : 'loading tasks…'}</option>
              </Show>
              <For each={groups()}>
                {(g) => (
                  <optgroup label={KIND_LABELS[g.kind] ?? g.kind}>
                    <For each={g.tasks}>
                      {(t) => (
                        <option value={t.name} selected={t.name === task()}>
                          {t.name}
                        </option>
                      )}
                    </For>
                  </optgroup>
                )}
              </For>
            </select>
            <FieldError name="task" />
          </label>
        </div>
        <Show when={info()}>
          {(t) => (
            <p class="small task-desc" data-testid="eval-task-desc">
              {t().description}{' '}
              <span class="muted">
                Scores: {t().metrics.join(', ')} ({t().higherIsBetter ? 'higher' : 'lower'} is better)
                {t().maxFewshot
                  ? ` · few-shot ${t().defaultFewshot} by default, up to ${t().maxFewshot}`
                  : ''}
                .
              </span>
            </p>
          )}
        </Show>
        <div class="preset-grid">
          {numInput('limit', kind() === 'perplexity' ? 'Limit (tokens)' : 'Limit (items)', 'all')}
          <Show when={(info()?.maxFewshot ?? 0) > 0}>
            {numInput('fewshot', 'Few-shot examples', String(info()?.defaultFewshot ?? 0))}
          </Show>
          {numInput('seed', 'Seed', '0')}
          <label>
            Label
            <input
              name="label"
              value={f.label}
              placeholder="optional"
              onInput={(e) => setF('label', e.currentTarget.value)}
            />
            <FieldError name="label" />
          </label>
        </div>
        <label class="inline small">
          <input
            type="checkbox"
            checked={f.chatTemplate}
            onChange={(e) => setF('chatTemplate', e.currentTarget.checked)}
            data-testid="eval-chat-template"
          />
          Wrap each prompt in the model’s chat template{' '}
          <span class="muted">
            (for chat-tuned models;{' '}
            {target() === 'model' && chosenModel()
              ? chosenModel()?.hasChatTemplate
                ? 'this model has its own'
                : 'this model has none, the lab’s default is used'
              : 'base models score best without'}
            )
          </span>
          <FieldError name="chatTemplate" />
        </label>

        <Show when={kind() === 'perplexity'}>
          <fieldset class="eval-fieldset" data-testid="eval-perplexity-fields">
            <legend>Text to measure</legend>
            <div class="radio-row">
              <For
                each={
                  [
                    ['textPath', 'a text file on the server'],
                    ['dataset', 'a dataset version'],
                    ['text', 'pasted text'],
                  ] as const
                }
              >
                {([v, l]) => (
                  <label class="inline">
                    <input
                      type="radio"
                      name="ppl-source"
                      checked={f.source === v}
                      onChange={() => setF('source', v)}
                    />{' '}
                    {l}
                  </label>
                )}
              </For>
            </div>
            <Show when={f.source === 'textPath'}>
              <label>
                Server path
                <input
                  name="textPath"
                  value={f.textPath}
                  placeholder="/path/to/wiki.test.tokens"
                  onInput={(e) => setF('textPath', e.currentTarget.value)}
                  data-testid="eval-textPath"
                />
                <FieldError name={['textPath', 'text']} />
              </label>
            </Show>
            <Show when={f.source === 'text'}>
              <label>
                Text
                <textarea
                  rows="4"
                  value={f.text}
                  onInput={(e) => setF('text', e.currentTarget.value)}
                  data-testid="eval-text"
                />
                <FieldError name="text" />
              </label>
            </Show>
            <Show when={f.source === 'dataset'}>
              <div class="preset-grid">
                <label class="wide">
                  Dataset version
                  <select value={f.dataset} onChange={(e) => setF('dataset', e.currentTarget.value)}>
                    <option value="">— pick one —</option>
                    <For each={datasets() ?? []}>
                      {(d) => (
                        <For each={[...d.versions].sort((a, b) => b.version - a.version)}>
                          {(v) => (
                            <option value={`${d.id}@${v.version}`}>
                              {d.name} v{v.version} ({v.step})
                            </option>
                          )}
                        </For>
                      )}
                    </For>
                  </select>
                  <FieldError name={['datasetId', 'datasetVersion', 'text']} />
                </label>
                <label>
                  Split
                  <select
                    value={f.split}
                    onChange={(e) => setF('split', e.currentTarget.value as Fields['split'])}
                  >
                    <option value="val">val</option>
                    <option value="train">train</option>
                    <option value="">whole version</option>
                  </select>
                  <FieldError name="split" />
                </label>
              </div>
            </Show>
            <div class="preset-grid">
              {numInput('context', 'Window (tokens)', 'model’s context')}
              {numInput('stride', 'Stride (tokens)', 'the window')}
            </div>
            <p class="muted small">
              The model reads the text in windows of <i>context</i> tokens that advance by <i>stride</i>; each
              token is scored once, with as much context before it as the window allows. A smaller stride
              gives later tokens more context (a lower, fairer perplexity) and costs more forward passes.
            </p>
          </fieldset>
        </Show>

        <Show when={kind() === 'humaneval' || kind() === 'judge'}>
          <div class="preset-grid">
            <Show when={kind() === 'humaneval'}>
              {numInput('samples', 'Samples per problem', '1')}
              <label>
                pass@k for k =
                <input
                  name="k"
                  value={f.k}
                  placeholder="1"
                  onInput={(e) => setF('k', e.currentTarget.value)}
                  data-testid="eval-k"
                />
                <FieldError name="k" />
              </label>
            </Show>
            {numInput('temperature', 'Temperature', kind() === 'humaneval' ? '0.2' : '0', 'any')}
            {numInput('maxTokens', 'Max tokens per answer', 'default')}
          </div>
        </Show>

        <Show when={kind() === 'generation'}>
          <div class="preset-grid">{numInput('maxTokens', 'Max tokens per answer', '128')}</div>
        </Show>

        <Show when={kind() === 'judge'}>
          <fieldset class="eval-fieldset">
            <legend>Judge</legend>
            <div class="radio-row">
              <label class="inline">
                <input
                  type="radio"
                  name="judgeMode"
                  checked={f.judgeMode === 'single'}
                  onChange={() => setF('judgeMode', 'single')}
                />{' '}
                grade each answer 1–10
              </label>
              <label class="inline">
                <input
                  type="radio"
                  name="judgeMode"
                  checked={f.judgeMode === 'pairwise'}
                  onChange={() => setF('judgeMode', 'pairwise')}
                />{' '}
                compare with a baseline model
              </label>
            </div>
            <label>
              Questions (one per line)
              <textarea
                rows="4"
                value={f.questions}
                onInput={(e) => setF('questions', e.currentTarget.value)}
              />
              <FieldError name="questions" />
            </label>
            <Show when={f.judgeMode === 'pairwise'}>
              <div class="eval-field">
                Baseline model
                <ModelSelect
                  models={props.models}
                  value={f.baseline}
                  onChange={(v) => setF('baseline', v)}
                  testId="eval-baseline"
                />
                <FieldError name="baseline" />
              </div>
            </Show>
            <div class="preset-grid">
              <label class="wide">
                Judge API (OpenAI-compatible)
                <input
                  value={f.judgeUrl}
                  placeholder="the lab’s own /v1"
                  onInput={(e) => setF('judgeUrl', e.currentTarget.value)}
                />
                <FieldError name="judgeUrl" />
              </label>
              <label>
                Judge model
                <input
                  value={f.judgeModel}
                  placeholder="the evaluated model"
                  onInput={(e) => setF('judgeModel', e.currentTarget.value)}
                />
                <FieldError name="judgeModel" />
              </label>
              <label>
                API key
                <input
                  type="password"
                  value={f.judgeKey}
                  placeholder="none"
                  onInput={(e) => setF('judgeKey', e.currentTarget.value)}
                />
                <FieldError name="judgeKey" />
              </label>
            </div>
            <label>
              Judge prompt <span class="muted small">(empty = the lab’s rubric)</span>
              <textarea
                rows="3"
                value={f.judgePrompt}
                onInput={(e) => setF('judgePrompt', e.currentTarget.value)}
              />
              <FieldError name="judgePrompt" />
            </label>
          </fieldset>
        </Show>

        <Show when={error() && !shown().includes(error()?.field ?? '') ? error() : undefined}>
          {(e) => (
            <div class="banner error small" role="alert" data-testid="eval-form-error">
              {e().message}
            </div>
          )}
        </Show>
        <div class="form-actions">
          <button type="submit" class="btn primary" disabled={busy()} data-testid="eval-submit">
            {busy()
              ? 'Queueing…'
              : target() === 'job'
                ? `Evaluate ${jobs().find((j) => j.jobId === job())?.checkpoints.length ?? 0} checkpoints`
                : 'Run evaluation'}
          </button>
          <span class="muted small">{note()}</span>
        </div>
      </form>
    </div>
  );
}
