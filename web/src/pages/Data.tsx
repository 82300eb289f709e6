import { createResource, createSignal, For, Show } from 'solid-js';
import { api, dataApi, errorText } from '../api.ts';
import { dataPageApi } from './data/api.ts';
import { DeleteControl } from './data/Delete.tsx';
import { DocumentBrowser } from './data/Documents.tsx';
import { fmt } from './data/job.tsx';
import { Report } from './data/Report.tsx';
import { createDataRoute } from './data/route.ts';
import { ShardsCard, StatsCard } from './data/Stats.tsx';
import { StepsForm } from './data/Steps.tsx';
import { Upload } from './data/Upload.tsx';

export default function DataPage() {
  // The selected dataset and version are the address (#/data/<id>/<version>): a reload keeps them.
  const [route, go] = createDataRoute();
  const [list, { refetch }] = createResource(() => dataApi.list().then((r) => r.datasets));
  const [tokenizers] = createResource(() =>
    api
      .tokenizers()
      .then((r) => r.tokenizers.map((t) => t.name))
      .catch(() => ['gpt2']),
  );
  const selected = () => route().id;
  const [dataset, { refetch: refetchDataset }] = createResource(selected, (id) => dataPageApi.get(id));
  /** The version whose report is open: the one in the address when the page opens, then the one clicked. */
  const [inspected, setInspected] = createSignal<number | undefined>(route().version);
  const [versionReport] = createResource(
    () => {
      const id = selected();
      const v = inspected();
      return id && v !== undefined ? ([id, v] as const) : undefined;
    },
    ([id, v]) => dataApi.version(id, v),
  );

  const latest = () => {
    const d = dataset();
    return d?.versions.length ? Math.max(...d.versions.map((v) => v.version)) : undefined;
  };
  /** The version in the address when the dataset has it, else the latest. */
  const current = () => {
    const v = route().version;
    return v !== undefined && dataset()?.versions.some((x) => x.version === v) ? v : latest();
  };
  const currentVersion = () => dataset()?.versions.find((v) => v.version === current());
  const missingVersion = () => {
    const v = route().version;
    const d = dataset();
    return v !== undefined && d && !d.versions.some((x) => x.version === v) ? v : undefined;
  };

  const select = (id: string) => {
    setInspected(undefined);
    go({ id });
  };

  return (
    <div class="data-page">
      <p class="muted">
        Cleaning matters because the model copies whatever is in its data: duplicated passages get memorised,
        markup and boilerplate become things it learns to write, and personal data can leak back out in
        generations. Each step below makes a new <em>version</em>, so you can always see what a step removed
        and go back.
      </p>
      <div class="two-col">
        <Upload
          onCreated={(id) => {
            void refetch();
            select(id);
          }}
        />
        <div class="card">
          <div class="card-head">
            <h2>Datasets</h2>
            <button type="button" class="btn small" onClick={() => refetch()}>
              Refresh
            </button>
          </div>
          <Show when={list.error}>
            <div class="banner error small">{errorText(list.error)}</div>
          </Show>
          <ul class="pick-list" data-testid="data-list">
            <For each={list()} fallback={<li class="muted small">No datasets yet.</li>}>
              {(d) => (
                <li data-id={d.id} classList={{ selected: d.id === selected() }}>
                  <button type="button" class="link" onClick={() => select(d.id)}>
                    {d.name}
                  </button>{' '}
                  <span class="muted small">
                    {d.id} · {d.format} · {d.versions.length} version(s)
                  </span>
                </li>
              )}
            </For>
          </ul>
        </div>
      </div>
      <Show when={selected() && dataset.error}>
        <div class="banner error small" role="alert">
          {errorText(dataset.error)}
        </div>
      </Show>
      <Show when={dataset()}>
        {(d) => (
          <>
            <div class="card">
              <div class="card-head">
                <h2>{d().name} · versions</h2>
                <span class="muted small">
                  {d().source} · documents are {d().documentSplit}s{' '}
                  <DeleteControl
                    datasetId={d().id}
                    label="Delete dataset"
                    onDeleted={() => {
                      setInspected(undefined);
                      go({});
                      void refetch();
                    }}
                  />
                </span>
              </div>
              <Show when={missingVersion()}>
                {(v) => (
                  <div class="banner warn small">
                    {d().id} has no version {v()} (deleted?); showing v{current()}.
                  </div>
                )}
              </Show>
              <ol class="lineage" data-testid="data-versions">
                <For each={[...d().versions].sort((a, b) => a.version - b.version)}>
                  {(v) => (
                    <li data-version={v.version} classList={{ selected: v.version === current() }}>
                      <button
                        type="button"
                        class="link"
                        onClick={() => {
                          go({ id: d().id, version: v.version });
                          setInspected(v.version);
                        }}
                      >
                        v{v.version}
                      </button>{' '}
                      <span class="muted small">
                        {v.parent
                          ? `← v${v.parent}${d().versions.some((x) => x.version === v.parent) ? '' : ' (deleted)'} `
                          : ''}
                        {v.step}
                      </span>{' '}
                      · {fmt(v.documents)} docs · {fmt(v.characters)} chars
                      <Show when={Object.keys(v.splits).length}>
                        {' · '}
                        {Object.entries(v.splits)
                          .map(([k, n]) => `${k} ${fmt(n)}`)
                          .join(', ')}
                      </Show>
                      <Show when={d().versions.length > 1}>
                        {' '}
                        <DeleteControl
                          datasetId={d().id}
                          version={v.version}
                          label="delete"
                          onDeleted={() => {
                            if (inspected() === v.version) setInspected(undefined);
                            if (route().version === v.version) go({ id: d().id });
                            void refetchDataset();
                            void refetch();
                          }}
                        />
                      </Show>
                    </li>
                  )}
                </For>
              </ol>
              <Show when={inspected() !== undefined && versionReport()?.reports.length}>
                <Report
                  reports={versionReport()?.reports ?? []}
                  testid="data-version-report"
                  title={`How v${inspected()} was made`}
                />
              </Show>
            </div>
            <Show when={current() !== undefined}>
              {/* Not keyed: the report of the last run stays visible when its new version becomes current. */}
              {(_) => (
                <StepsForm
                  dataset={d()}
                  from={current() ?? 0}
                  onVersion={(v) => {
                    void refetchDataset();
                    void refetch();
                    setInspected(undefined);
                    go({ id: d().id, version: v });
                  }}
                />
              )}
            </Show>
            <Show when={currentVersion()} keyed>
              {(v) => (
                <>
                  <StatsCard dataset={d()} version={v.version} tokenizers={tokenizers() ?? ['gpt2']} />
                  <DocumentBrowser datasetId={d().id} version={v} />
                  <ShardsCard dataset={d()} version={v.version} tokenizers={tokenizers() ?? ['gpt2']} />
                </>
              )}
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
