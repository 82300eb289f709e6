// A dataset version as a probe's source: which dataset and version, which document field holds the class
// (and optionally the text), how a document becomes one vector, and how many documents to read. The fields
// offered are those found on the version's first documents (svc-data keeps a record's scalar fields).
import { createEffect, createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { dataApi, errorText } from '../../api.ts';
import { dataPageApi } from '../data/api.ts';

export interface DatasetChoice {
  datasetId: string;
  /** 0: the latest. */
  version: number;
  labelField: string;
  /** Empty: the documents' text. */
  textField: string;
  pool: 'last' | 'mean';
  maxDocuments: number;
}

/** Documents looked at for the fields a version's records carry. */
const SAMPLE = 50;

export function DatasetSource(props: { onChange: (c: DatasetChoice | undefined) => void }) {
  const [datasets] = createResource(() => dataApi.list().then((r) => r.datasets));
  const [datasetId, setDatasetId] = createSignal('');
  const [version, setVersion] = createSignal(0);
  const [labelField, setLabelField] = createSignal('');
  const [textField, setTextField] = createSignal('');
  const [pool, setPool] = createSignal<'last' | 'mean'>('last');
  const [maxDocuments, setMaxDocuments] = createSignal(1000);
  const dataset = createMemo(() => datasets()?.find((d) => d.id === datasetId()));
  const [sample] = createResource(
    () => (datasetId() ? ([datasetId(), version()] as const) : undefined),
    ([id, v]) => dataPageApi.documents(id, v, { offset: 0, limit: SAMPLE }),
  );
  const fields = createMemo(() =>
    [...new Set((sample()?.documents ?? []).flatMap((d) => Object.keys(d.fields)))].sort(),
  );
  // A new dataset or version offers other fields: keep the chosen one only while it is still there.
  createEffect(() => {
    const have = fields();
    if (!have.includes(labelField()))
      setLabelField(have.find((f) => /label|class|kind|category/i.test(f)) ?? have[0] ?? '');
    if (textField() && !have.includes(textField())) setTextField('');
  });
  createEffect(() =>
    props.onChange(
      datasetId() && labelField()
        ? {
            datasetId: datasetId(),
            version: version(),
            labelField: labelField(),
            textField: textField(),
            pool: pool(),
            maxDocuments: maxDocuments(),
          }
        : undefined,
    ),
  );
  return (
    <div data-testid="probe-dataset-source">
      <div style={{ display: 'flex', gap: '12px', 'align-items': 'center', 'flex-wrap': 'wrap' }}>
        <label class="small">
          Dataset{' '}
          <select
            data-testid="probe-dataset"
            value={datasetId()}
            onChange={(e) => {
              setDatasetId(e.currentTarget.value);
              setVersion(0);
            }}
          >
            <option value="">choose…</option>
            <For each={datasets() ?? []}>{(d) => <option value={d.id}>{d.name || d.id}</option>}</For>
          </select>
        </label>
        <label class="small">
          Version{' '}
          <select
            data-testid="probe-version"
            value={String(version())}
            onChange={(e) => setVersion(Number(e.currentTarget.value))}
          >
            <option value="0">latest</option>
            <For each={dataset()?.versions ?? []}>
              {(v) => (
                <option value={String(v.version)}>
                  v{v.version} ({v.documents} documents)
                </option>
              )}
            </For>
          </select>
        </label>
        <label class="small">
          Label field{' '}
          <select
            data-testid="probe-label-field"
            value={labelField()}
            onChange={(e) => setLabelField(e.currentTarget.value)}
          >
            <For each={fields()}>{(f) => <option value={f}>{f}</option>}</For>
          </select>
        </label>
        <label class="small">
          Text{' '}
          <select
            data-testid="probe-text-field"
            value={textField()}
            onChange={(e) => setTextField(e.currentTarget.value)}
          >
            <option value="">the document’s text</option>
            <For each={fields().filter((f) => f !== labelField())}>
              {(f) => <option value={f}>field {f}</option>}
            </For>
          </select>
        </label>
        <label
          class="small"
          title="A causal model's last token is the only position that has read the whole document; the mean spreads the read over every token"
        >
          Read each document at{' '}
          <select
            data-testid="probe-pool"
            value={pool()}
            onChange={(e) => setPool(e.currentTarget.value as 'last' | 'mean')}
          >
            <option value="last">its last token</option>
            <option value="mean">the mean of its tokens</option>
          </select>
        </label>
        <label class="small">
          At most{' '}
          <input
            data-testid="probe-max-docs"
            type="number"
            min={10}
            max={5000}
            style={{ width: '70px' }}
            value={maxDocuments()}
            onInput={(e) => setMaxDocuments(Number(e.currentTarget.value) || 1000)}
          />{' '}
          documents
        </label>
      </div>
      <div class="small muted" style={{ 'margin-top': '4px' }}>
        Each document is one example, its class the value of the label field. Documents longer than the
        model’s context are cut to it (counted in the result).
      </div>
      <Show when={sample.error}>
        <div class="banner error small" role="alert">
          {errorText(sample.error)}
        </div>
      </Show>
      <Show when={datasetId() && sample() && !fields().length}>
        <div class="banner small" data-testid="probe-no-fields">
          These documents carry no fields besides their text: ingest a JSONL, JSON or CSV file with a label
          field (e.g. {'{"text": "…", "label": "pos"}'}) to probe for it.
        </div>
      </Show>
    </div>
  );
}
