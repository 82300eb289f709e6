// The Fine-tune page: start a fine-tune of a base model (SFT or DPO, LoRA or full), follow its loss curves and
// samples, and open its checkpoints in the Playground. Fine-tunes are svc-train jobs with `finetune` set, so
// the list here is the training queue filtered to those.
import { createSignal, For, onCleanup, Show } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import { errorText, type TrainJob, trainApi } from '../api.ts';
import { formatNumber } from '../components/LineChart.tsx';
import { lineageOf, type SubmitFinetuneJob } from './finetune/api.ts';
import FinetuneForm from './finetune/FinetuneForm.tsx';
import FinetuneJob from './finetune/FinetuneJob.tsx';
import Sweep from './finetune/Sweep.tsx';

export default function FinetunePage() {
  // Reconciled by id: polling updates rows in place instead of rebuilding the table.
  const [jobs, setJobs] = createStore<TrainJob[]>([]);
  const [listError, setListError] = createSignal<string>();
  const refetch = async () => {
    try {
      const r = await trainApi.list();
      setJobs(
        reconcile(
          r.jobs.filter((j) => lineageOf(j)),
          { key: 'id' },
        ),
      );
      setListError(undefined);
    } catch (err) {
      setListError(errorText(err));
    }
  };
  void refetch();
  const [selected, setSelected] = createSignal<string>();
  let formRequest: (() => SubmitFinetuneJob) | undefined;
  const poll = setInterval(() => void refetch(), 2000);
  onCleanup(() => clearInterval(poll));

  return (
    <div class="train-page finetune-page">
      <FinetuneForm
        onSubmitted={(id) => {
          void refetch();
          setSelected(id);
        }}
        requestRef={(get) => {
          formRequest = get;
        }}
      />
      <Sweep request={() => formRequest?.()} onSubmitted={() => void refetch()} />
      <div class="card">
        <div class="card-head">
          <h2>Fine-tunes</h2>
        </div>
        <Show when={listError()}>
          <div class="banner error small">{listError()}</div>
        </Show>
        <table class="table" data-testid="ft-job-list">
          <thead>
            <tr>
              <th>Job</th>
              <th>Base</th>
              <th>Method</th>
              <th>State</th>
              <th>Step</th>
              <th>Val loss</th>
            </tr>
          </thead>
          <tbody>
            <For
              each={jobs}
              fallback={
                <tr>
                  <td colSpan={6} class="muted small">
                    No fine-tunes yet.
                  </td>
                </tr>
              }
            >
              {(j) => {
                const l = () => lineageOf(j);
                return (
                  <tr
                    class="job-row"
                    classList={{ selected: j.id === selected() }}
                    data-testid={`ft-job-${j.id}`}
                    data-state={j.state}
                    onClick={() => setSelected(j.id)}
                  >
                    <td>
                      {j.name || j.id} <span class="muted small">{j.id}</span>
                    </td>
                    <td>{l()?.baseModel}</td>
                    <td>
                      {l()?.method.toUpperCase()}
                      {l()?.adapter === 'lora' ? ` · LoRA r${l()?.rank ?? ''}` : ' · full'}
                    </td>
                    <td>{j.state}</td>
                    <td>
                      {j.step.toLocaleString()} / {j.iters.toLocaleString()}
                    </td>
                    <td>{j.valLoss ? formatNumber(j.valLoss) : '—'}</td>
                  </tr>
                );
              }}
            </For>
          </tbody>
        </table>
      </div>
      <Show when={selected()} keyed>
        {(id) => <FinetuneJob id={id} onChanged={() => void refetch()} />}
      </Show>
    </div>
  );
}
