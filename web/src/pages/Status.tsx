import { createSignal, For, onCleanup, Show } from 'solid-js';
import { api, errorText, type HealthResponse } from '../api.ts';
import { rpcsText } from './status/describe.ts';
import RunningJobs from './status/RunningJobs.tsx';
import StatusEvents from './status/StatusEvents.tsx';

const POLL_MS = 2000;

/** What each service does, for the learner reading the table. */
const roles: Record<string, string> = {
  tokenize: 'trains tokenizers and turns text into token ids',
  data: 'ingests, cleans and shards datasets',
  train: 'runs pre-training and fine-tuning jobs',
  infer: 'loads models and generates text, attention and activations',
  eval: 'measures models: perplexity, benchmarks, scores',
};

export default function StatusPage() {
  const [health, setHealth] = createSignal<HealthResponse>();
  const [error, setError] = createSignal<string>();
  const [checkedAt, setCheckedAt] = createSignal<Date>();

  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const ctrl = new AbortController();

  const poll = async () => {
    const started = Date.now();
    try {
      const h = await api.health({ signal: ctrl.signal });
      if (stopped) return;
      if (!h || !Array.isArray(h.services))
        throw new Error('The gateway answered /api/health with an unexpected body.');
      setHealth(h);
      setError(undefined);
      setCheckedAt(new Date());
    } catch (err) {
      if (stopped) return;
      setError(errorText(err));
    }
    if (!stopped) timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
  };
  void poll();

  onCleanup(() => {
    stopped = true;
    ctrl.abort();
    if (timer) clearTimeout(timer);
  });

  return (
    <div class="status-page">
      <Show when={error()}>
        <div class="banner error" role="alert" data-testid="gateway-error">
          <strong>Cannot reach the gateway.</strong> {error()} Retrying every {POLL_MS / 1000} s
          <Show when={health()}>
            {' '}
            — the table below shows the last answer, from {checkedAt()?.toLocaleTimeString()}
          </Show>
          .
        </div>
      </Show>

      <div class="card">
        <div class="card-head">
          <h2>Services</h2>
          <Show when={health()}>
            {(h) => (
              <span
                class={`pill ${h().ok && !error() ? 'status-serving' : 'status-unknown'}`}
                data-testid="health-summary"
              >
                {h().services.filter((s) => s.status === 'SERVING').length} of {h().services.length} serving
              </span>
            )}
          </Show>
          <span class="muted small">
            <Show when={checkedAt()} fallback="waiting for the first answer…">
              checked {checkedAt()?.toLocaleTimeString()} · every {POLL_MS / 1000} s
            </Show>
          </span>
        </div>
        <Show
          when={health()}
          fallback={
            <p class="muted">
              {error() ? 'No answer from the gateway yet.' : 'Asking the gateway (GET /api/health)…'}
            </p>
          }
        >
          {(h) => (
            <>
              <table class="table services" classList={{ stale: !!error() }}>
                <thead>
                  <tr>
                    <th>Service</th>
                    <th>Health</th>
                    <th>What it can do</th>
                    <th>Address</th>
                    <th>What it does</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={h().services}>
                    {(s) => (
                      <tr data-testid={`service-${s.name}`}>
                        <td class="mono strong">{s.name}</td>
                        <td>
                          <span class={`pill status-${s.status.toLowerCase()}`}>
                            <span class="dot" aria-hidden="true" />
                            <span data-testid="service-status">{s.status}</span>
                          </span>
                        </td>
                        <td>
                          <Show when={s.status === 'SERVING'} fallback={<span class="muted">—</span>}>
                            {(() => {
                              const rpcs = s.rpcs;
                              return (
                                <span
                                  data-testid="service-rpcs"
                                  class={rpcs && rpcs.implemented < rpcs.total ? 'warn-text' : 'muted'}
                                  title={
                                    rpcs?.missing.length
                                      ? `Not implemented yet: ${rpcs.missing.join(', ')}`
                                      : rpcs
                                        ? `Every RPC its .proto declares is implemented (version ${rpcs.version})`
                                        : 'The service did not answer GetInfo'
                                  }
                                >
                                  serving · {rpcsText(rpcs)}
                                </span>
                              );
                            })()}
                          </Show>
                        </td>
                        <td class="mono muted">{s.address}</td>
                        <td class="muted">{roles[s.name] ?? ''}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
              <div class="bus-line" classList={{ stale: !!error() }}>
                <span class="strong">Event bus</span>
                <span class={`pill bus-${h().bus.state}`} data-testid="bus">
                  <span class="dot" aria-hidden="true" />
                  {h().bus.kind} · {h().bus.state}
                </span>
                <span class="muted small">
                  {h().bus.kind === 'nats'
                    ? 'A NATS server carries events between the services and the gateway.'
                    : 'In-process bus: no NATS server was found, so events do not travel between services (put nats-server on PATH and restart the lab).'}
                </span>
              </div>
            </>
          )}
        </Show>
      </div>

      <RunningJobs />

      <StatusEvents busKind={health()?.bus.kind} />
    </div>
  );
}
