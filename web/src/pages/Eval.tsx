import { createEffect, createResource, createSignal, For, onCleanup, Show } from 'solid-js';
import { errorText, evalApi } from '../api.ts';
import Leaderboard from './eval/Leaderboard.tsx';
import RunForm from './eval/RunForm.tsx';
import RunsList from './eval/RunsList.tsx';
import RunView from './eval/RunView.tsx';
import { createRuns } from './eval/runs.ts';
import { createModels } from './playground/hooks.ts';

type Tab = 'runs' | 'leaderboard';
const TABS: { id: Tab; label: string }[] = [
  { id: 'runs', label: 'Evaluate' },
  { id: 'leaderboard', label: 'Leaderboard' },
];

/** `?run=…&tab=…&model=…` of the page's hash route. */
function fromHash(): { run?: string; tab?: Tab; model?: string } {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const tab = q.get('tab');
  return {
    run: q.get('run') ?? undefined,
    tab: tab === 'leaderboard' || tab === 'runs' ? tab : undefined,
    model: q.get('model') ?? undefined,
  };
}

export default function EvalPage() {
  const initial = fromHash();
  const [tab, setTab] = createSignal<Tab>(initial.tab ?? 'runs');
  const [selected, setSelected] = createSignal<string | undefined>(initial.run);
  /** Bumped when a run finishes, so the leaderboard fetches again. */
  const [version, setVersion] = createSignal(0);
  const { models, error: modelsError } = createModels();
  const [tasks] = createResource(() => evalApi.tasks().then((r) => r.tasks));
  const runs = createRuns(() => setVersion((v) => v + 1));

  // The address names the tab and the run, so a reload or a shared link opens the same view.
  createEffect(() => {
    const q = new URLSearchParams();
    if (tab() !== 'runs') q.set('tab', tab());
    const id = selected();
    if (id) q.set('run', id);
    const qs = q.toString();
    history.replaceState(null, '', `#/eval${qs ? `?${qs}` : ''}`);
  });
  const onHash = () => {
    if (!location.hash.startsWith('#/eval')) return;
    const h = fromHash();
    if (h.tab) setTab(h.tab);
    if (h.run) setSelected(h.run);
  };
  window.addEventListener('hashchange', onHash);
  onCleanup(() => window.removeEventListener('hashchange', onHash));

  // A run that is not among the listed ones (an old link): fetched once and added.
  const [missing, setMissing] = createSignal<string>();
  createEffect(() => {
    const id = selected();
    if (!id || runs.get(id)) return;
    evalApi
      .run(id)
      .then((r) => {
        runs.add(r);
        setMissing(undefined);
      })
      .catch((err) => setMissing(errorText(err)));
  });

  const open = (id: string) => {
    setSelected(id);
    setTab('runs');
    requestAnimationFrame(() =>
      document.querySelector('[data-testid="eval-run-view"]')?.scrollIntoView({ block: 'start' }),
    );
  };
  const taskOf = (name: string) => tasks()?.find((t) => t.name === name);

  return (
    <div class="eval-page" data-testid="eval-page">
      <Show when={tasks.error}>
        <div class="banner error" role="alert" data-testid="eval-service-error">
          <strong>The eval service did not answer.</strong> {errorText(tasks.error)}
        </div>
      </Show>
      <Show when={modelsError()}>
        <div class="banner error small">
          <strong>The inference service did not answer:</strong> {modelsError()}
        </div>
      </Show>
      <div class="tabs eval-tabs" role="tablist" aria-label="Eval view">
        <For each={TABS}>
          {(t) => (
            <button
              type="button"
              role="tab"
              class="tab"
              classList={{ active: tab() === t.id }}
              aria-selected={tab() === t.id}
              data-testid={`eval-tab-${t.id}`}
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          )}
        </For>
      </div>

      <div hidden={tab() !== 'runs'}>
        <RunForm
          models={models()}
          tasks={tasks() ?? []}
          initialModel={initial.model}
          onSubmitted={(rs) => {
            for (const r of rs) runs.add(r);
            if (rs[0]) setSelected(rs[0].id);
          }}
        />
        <RunsList
          runs={runs.runs}
          total={Math.max(runs.total(), runs.runs.length)}
          tasks={tasks() ?? []}
          selected={selected()}
          error={runs.error()}
          onSelect={open}
        />
        <Show when={missing() && !runs.get(selected() ?? '')}>
          <div class="banner error small">
            Run {selected()}: {missing()}
          </div>
        </Show>
        <Show when={selected() ? runs.get(selected()!) : undefined} keyed>
          {(r) => <RunView run={runs.get(r.id) ?? r} task={taskOf(r.task)} />}
        </Show>
      </div>
      <Show when={tab() === 'leaderboard'}>
        <Leaderboard version={version()} onOpenRun={open} />
      </Show>
    </div>
  );
}
