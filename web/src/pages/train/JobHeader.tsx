// A job's header: name, state, step, parameters, the latest loss and throughput, elapsed time and ETA, the
// stream's state, and pause / resume / cancel (cancel asks first: a cancelled run cannot be resumed).
import { createSignal, Show } from 'solid-js';
import ConfirmDialog from '../../components/ConfirmDialog.tsx';
import { formatCount, formatNumber } from '../../components/format.ts';
import { formatDuration, type TrainJobDetail } from './types.ts';

/** What the header shows of the run now; the queue's row shows the same. */
export interface LiveStatus {
  state: string;
  step: number;
  loss?: number;
  valLoss?: number;
  tokensPerSecond?: number;
}

export interface JobHeaderProps {
  id: string;
  job?: TrainJobDetail;
  status: LiveStatus;
  /** Seconds elapsed and (while running) left. */
  timing?: { elapsed: number; left?: number };
  stream: string;
  acting: boolean;
  terminal: boolean;
  onAct: (verb: 'cancel' | 'pause' | 'resume') => void;
}

export default function JobHeader(props: JobHeaderProps) {
  const [asking, setAsking] = createSignal(false);
  const pending = () => !!props.job?.pendingAction;
  const s = () => props.status.state;
  return (
    <div class="card-head">
      <h2>{props.job?.name || props.id}</h2>
      <span class="state-badge" data-testid="job-state" data-state={s()}>
        {s()}
      </span>
      <Show when={props.job?.pendingAction}>
        <span class="muted small">({props.job?.pendingAction} requested)</span>
      </Show>
      <span class="muted small">
        step <span data-testid="job-step">{formatCount(props.status.step)}</span> /{' '}
        {formatCount(props.job?.iters ?? 0)}
        <Show when={props.job?.parameters}>
          {' · '}
          <span data-testid="job-parameters">{formatCount(props.job?.parameters ?? 0)}</span> parameters
        </Show>
        <Show when={props.status.tokensPerSecond !== undefined}>
          {' '}
          · loss <span data-testid="job-loss">{formatNumber(props.status.loss)}</span> ·{' '}
          <span data-testid="job-tps">{formatNumber(props.status.tokensPerSecond)}</span> tokens/s
        </Show>
        <Show when={props.timing}>
          {(t) => (
            <>
              {' · '}
              <span data-testid="job-elapsed">{formatDuration(t().elapsed)} elapsed</span>
              <Show when={t().left !== undefined}>
                {' · '}
                <span data-testid="job-eta">about {formatDuration(t().left ?? 0)} left</span>
              </Show>
            </>
          )}
        </Show>
        {' · stream '}
        {props.stream}
      </span>
      <span class="spacer" />
      <button
        type="button"
        class="btn"
        data-testid="job-pause"
        disabled={props.acting || pending() || !['running', 'queued'].includes(s())}
        onClick={() => props.onAct('pause')}
      >
        Pause
      </button>
      <button
        type="button"
        class="btn"
        data-testid="job-resume"
        disabled={props.acting || pending() || s() !== 'paused'}
        onClick={() => props.onAct('resume')}
      >
        Resume
      </button>
      <button
        type="button"
        class="btn"
        data-testid="job-cancel"
        disabled={props.acting || props.terminal || props.job?.pendingAction === 'cancel'}
        onClick={() => setAsking(true)}
      >
        Cancel
      </button>
      <ConfirmDialog
        open={asking()}
        title="Cancel this run?"
        backLabel="Keep it"
        confirmLabel="Cancel the run"
        onBack={() => setAsking(false)}
        onConfirm={() => {
          setAsking(false);
          props.onAct('cancel');
        }}
        testId="job-cancel-confirm"
      >
        <p>
          {props.job?.name || props.id} stops for good at step {formatCount(props.status.step)} of{' '}
          {formatCount(props.job?.iters ?? 0)}: a cancelled run cannot be resumed. To stop it for now, pause
          it instead.
        </p>
      </ConfirmDialog>
    </div>
  );
}
