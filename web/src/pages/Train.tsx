// The Train page: the form that starts a pre-training run, the queue of jobs, and the job opened from it
// (web/src/pages/train/: TrainForm, Queue, JobView and their parts).
import { createSignal, onCleanup, Show } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import { errorText, type TrainJob, trainApi } from '../api.ts';
import type { LiveStatus } from './train/JobHeader.tsx';
import JobView from './train/JobView.tsx';
import Queue from './train/Queue.tsx';
import TrainForm from './train/TrainForm.tsx';

export default function TrainPage() {
  // A store reconciled by id: polling updates rows in place instead of rebuilding the table.
  const [jobs, setJobs] = createStore<TrainJob[]>([]);
  const [listError, setListError] = createSignal<string>();
  const refetch = async () => {
    try {
      const r = await trainApi.list();
      setJobs(reconcile(r.jobs, { key: 'id' }));
      setListError(undefined);
    } catch (err) {
      setListError(errorText(err));
    }
  };
  void refetch();
  const [selected, setSelected] = createSignal<string>();
  /** The open job's header, which its queue row follows between polls. */
  const [live, setLive] = createSignal<{ id: string; status: LiveStatus }>();
  const poll = setInterval(() => void refetch(), 2000);
  onCleanup(() => clearInterval(poll));
  const select = (id: string) => {
    if (id !== selected()) setLive(undefined);
    setSelected(id);
  };

  return (
    <div class="train-page">
      <TrainForm
        onSubmitted={(id) => {
          void refetch();
          select(id);
        }}
      />
      <Queue
        jobs={jobs}
        error={listError()}
        selected={selected()}
        onSelect={select}
        live={live()?.id === selected() ? live() : undefined}
      />
      <Show when={selected()} keyed>
        {(id) => (
          <JobView
            id={id}
            onChanged={() => void refetch()}
            onStatus={(jobId, status) => setLive({ id: jobId, status })}
          />
        )}
      </Show>
    </div>
  );
}
