// A page-by-page browser of a version's documents: reading the data itself is the best check of what a
// cleaning step did and of what a document is (a paragraph, a line, a whole file).
import { createResource, createSignal, For, Show } from 'solid-js';
import { type DatasetVersion, errorText } from '../../api.ts';
import { dataPageApi } from './api.ts';
import { fmt } from './job.tsx';

const PAGE = 10;

export function DocumentBrowser(props: { datasetId: string; version: DatasetVersion }) {
  const [offset, setOffset] = createSignal(0);
  const [split, setSplit] = createSignal('');
  const [page] = createResource(
    () => ({ id: props.datasetId, v: props.version.version, offset: offset(), split: split() }),
    (q) => dataPageApi.documents(q.id, q.v, { offset: q.offset, limit: PAGE, split: q.split }),
  );
  const total = () => page()?.total ?? 0;
  const splits = () => Object.keys(props.version.splits);

  return (
    <div class="card" data-testid="data-documents">
      <div class="card-head">
        <h2>Documents · version {props.version.version}</h2>
        <span class="muted small">{fmt(total())} documents</span>
      </div>
      <div class="pager">
        <button type="button" class="btn small" disabled={offset() === 0} onClick={() => setOffset(0)}>
          « First
        </button>
        <button
          type="button"
          class="btn small"
          data-testid="docs-prev"
          disabled={offset() === 0}
          onClick={() => setOffset(Math.max(0, offset() - PAGE))}
        >
          ‹ Previous
        </button>
        <span class="small" data-testid="docs-range">
          {total()
            ? `${fmt(offset() + 1)}–${fmt(Math.min(total(), offset() + PAGE))} of ${fmt(total())}`
            : '—'}
        </span>
        <button
          type="button"
          class="btn small"
          data-testid="docs-next"
          disabled={offset() + PAGE >= total()}
          onClick={() => setOffset(offset() + PAGE)}
        >
          Next ›
        </button>
        <label class="inline small">
          go to #{' '}
          <input
            type="number"
            class="num"
            name="docIndex"
            min={0}
            onChange={(e) => {
              const n = e.currentTarget.valueAsNumber;
              if (Number.isInteger(n) && n >= 0) setOffset(Math.min(n, Math.max(0, total() - 1)));
            }}
          />
        </label>
        <Show when={splits().length}>
          <label class="inline small">
            split{' '}
            <select
              name="split"
              value={split()}
              onChange={(e) => {
                setSplit(e.currentTarget.value);
                setOffset(0);
              }}
            >
              <option value="">all</option>
              <For each={splits()}>{(sp) => <option value={sp}>{sp}</option>}</For>
            </select>
          </label>
        </Show>
      </div>
      <Show when={page.error}>
        <div class="banner error small">{errorText(page.error)}</div>
      </Show>
      <ol
        class="doc-list"
        classList={{ stale: page.loading }}
        style={{ 'list-style': 'none', padding: 0, margin: 0 }}
      >
        <For each={page.latest?.documents ?? []}>
          {(d) => (
            <li data-index={d.index} style={{ 'margin-bottom': '0.5rem' }}>
              <div class="muted small">
                #{d.index}
                <Show when={d.split}> · {d.split}</Show> · {fmt(d.text.length)} characters
              </div>
              <pre
                class="doc-text"
                style={{ margin: 0, 'white-space': 'pre-wrap', 'max-height': '12rem', overflow: 'auto' }}
              >
                {d.text}
              </pre>
            </li>
          )}
        </For>
      </ol>
    </div>
  );
}
