// The end-of-turn check after a fine-tune, beside the one made before it: the token training ended every
// answer with must still be what the merged checkpoint and an exported copy of it stop on — in
// generation_config.json, tokenizer_config.json, the chat template and the stop set svc-infer derives —
// or the fine-tuned model never stops. The check before training is run again for the same job, so the two
// read side by side.
import { createSignal, For, Show } from 'solid-js';
import {
  type BodyOf,
  errorText,
  postJSON,
  type RequestOptions,
  type ResponseOf,
  type Routes,
} from '../../api.ts';
import type { TrainJobDetail } from '../train/types.ts';
import { type EosCheck, finetuneApi, type PreviewRequest } from './api.ts';
import { EosLine } from './Preview.tsx';

export type EosSurvival = ResponseOf<Routes['train']['eosCheck'], 200>;
type EosCheckBody = BodyOf<Routes['train']['eosCheck']>;

const checkEos = (id: string, body: EosCheckBody, opts?: RequestOptions) =>
  postJSON<EosSurvival>(`/api/train/jobs/${encodeURIComponent(id)}/eos-check`, body, {
    timeoutMs: 120_000,
    ...opts,
  });

/** The preview request of the job as submitted: its base, method and data, at its context. */
function previewOf(job: TrainJobDetail): PreviewRequest | undefined {
  const r = job.request as Record<string, unknown>;
  const ft = r.finetune as PreviewRequest['finetune'] | undefined;
  if (!ft) return undefined;
  const config = r.config as { context?: number } | undefined;
  return {
    finetune: ft,
    ...(typeof r.datasetId === 'string' && r.datasetId
      ? { datasetId: r.datasetId, datasetVersion: Number(r.datasetVersion ?? 0) }
      : { dataPath: String(r.dataPath ?? '') }),
    ...(config?.context ? { config: { context: config.context } } : {}),
    examples: 1,
  };
}

const ITEMS: { name: EosSurvival['folders'][number]['items'][number]['name']; label: string }[] = [
  { name: 'generation_config', label: 'generation_config.json eos_token_id' },
  { name: 'tokenizer_config', label: 'tokenizer_config.json eos_token' },
  { name: 'chat_template', label: 'chat template’s end of turn' },
  { name: 'stop_set', label: 'svc-infer’s stop set' },
  { name: 'generation', label: 'greedy generation stops on it' },
];
const FOLDER: Record<string, string> = {
  base: 'base',
  checkpoint: 'merged checkpoint',
  export: 'exported model',
};
const MARK: Record<EosSurvival['status'], string> = { pass: '✓', fail: '✗', warn: '⚠', info: 'ℹ' };

function Result(props: { r: EosSurvival }) {
  const cell = (kind: string, name: string) =>
    props.r.folders.find((f) => f.kind === kind)?.items.find((i) => i.name === name);
  return (
    <>
      <div
        class={`banner small ${props.r.status === 'fail' || props.r.status === 'warn' ? 'error' : ''}`}
        role={props.r.status === 'fail' ? 'alert' : 'status'}
        data-testid="ft-eos-after"
        data-status={props.r.status}
      >
        <b>
          {MARK[props.r.status]} After merge and export{props.r.status === 'pass' ? ': OK' : ''}
        </b>{' '}
        {props.r.message}
      </div>
      <Show when={props.r.folders.length}>
        <table class="table small" data-testid="ft-eos-after-table">
          <thead>
            <tr>
              <th>
                {JSON.stringify(props.r.endToken)} (id {props.r.endId}) named by
              </th>
              <For each={props.r.folders}>{(f) => <th title={f.path}>{FOLDER[f.kind] ?? f.kind}</th>}</For>
            </tr>
          </thead>
          <tbody>
            <For each={ITEMS}>
              {(item) => (
                <tr>
                  <td>{item.label}</td>
                  <For each={props.r.folders}>
                    {(f) => {
                      const c = cell(f.kind, item.name);
                      return (
                        <td
                          data-kind={f.kind}
                          data-item={item.name}
                          data-status={c?.status ?? ''}
                          title={c?.detail ?? ''}
                        >
                          {c ? MARK[c.status] : '—'}
                        </td>
                      );
                    }}
                  </For>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
    </>
  );
}

export default function EosSurvivalCheck(props: { job: TrainJobDetail }) {
  const [before, setBefore] = createSignal<EosCheck>();
  const [after, setAfter] = createSignal<EosSurvival>();
  const [error, setError] = createSignal<string>();
  const [running, setRunning] = createSignal(false);
  const [exportPath, setExportPath] = createSignal('');

  const run = async () => {
    setRunning(true);
    setError(undefined);
    try {
      const preview = previewOf(props.job);
      const [b, a] = await Promise.all([
        preview ? finetuneApi.preview(preview).then((p) => p.eos) : undefined,
        checkEos(props.job.id, exportPath().trim() ? { exportPath: exportPath().trim() } : {}),
      ]);
      setBefore(b);
      setAfter(a);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setRunning(false);
    }
  };

  return (
    <div data-testid="ft-eos-survival" class="small">
      <h3 class="small">End of turn, before and after</h3>
      <p class="muted">
        Models that never stop after fine-tuning have usually lost their end-of-turn token on the way out:
        this checks that the token the answers were trained to end with is still the one the merged checkpoint
        and an exported copy stop on (svc-infer exports one to a scratch folder, or give a folder you
        exported).
      </p>
      <div class="form-actions">
        <input
          type="text"
          placeholder="exported folder (optional)"
          data-testid="ft-eos-export-path"
          value={exportPath()}
          onInput={(e) => setExportPath(e.currentTarget.value)}
        />
        <button
          type="button"
          class="btn"
          data-testid="ft-eos-check"
          disabled={running()}
          onClick={() => void run()}
        >
          {running() ? 'Checking…' : 'Check end of turn'}
        </button>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="ft-eos-error">
          {error()}
        </div>
      </Show>
      <div class="charts">
        <Show when={before()}>
          {(b) => (
            <div data-testid="ft-eos-before">
              <div class="muted">Before training</div>
              <EosLine eos={b()} />
            </div>
          )}
        </Show>
        <Show when={after()}>
          {(a) => (
            <div>
              <div class="muted">After merge and export (checkpoint {a().model})</div>
              <Result r={a()} />
            </div>
          )}
        </Show>
      </div>
    </div>
  );
}
