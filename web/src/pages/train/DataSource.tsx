// The data of a run: a dataset version (marked ready when it has shards for the chosen tokenizer, with "Make
// shards" right there when it has not) or a text file on the server.
import { createResource, createSignal, For, type JSX, Show } from 'solid-js';
import { dataApi, errorText } from '../../api.ts';
import { formatCount } from '../../components/format.ts';
import type { FieldErrors } from './fields.tsx';
import { makeShards, shardKeys } from './readiness.ts';

export type DataSourceKind = 'dataset' | 'path' | 'repeated';

/** Synthetic data: random tokens repeated twice (the induction-head recipe); the fields as typed. */
export interface RepeatedFields {
  vocabSize: string;
  halfLength: string;
}

export interface DataSourceProps {
  source: DataSourceKind;
  onSource: (s: DataSourceKind) => void;
  /** `<dataset id>@<version>`, or '' before one is picked. */
  datasetKey: string;
  onDatasetKey: (key: string) => void;
  dataPath: string;
  onDataPath: (path: string) => void;
  tokenizer: string;
  repeated: RepeatedFields;
  onRepeated: (r: RepeatedFields) => void;
  errors: FieldErrors;
}

export default function DataSource(props: DataSourceProps) {
  const [datasets, { refetch }] = createResource(() =>
    dataApi
      .list()
      .then((r) => r.datasets)
      .catch(() => []),
  );
  // Which versions have shards for which tokenizer (svc-data's dependents list each shard folder).
  const [shards, { refetch: refetchShards }] = createResource(
    () => (datasets() ?? []).map((d) => d.id),
    (ids) => shardKeys(ids),
  );
  /** True/false when known for the chosen tokenizer, undefined while unknown. */
  const ready = (key: string): boolean | undefined => {
    const s = shards();
    return s ? s.has(`${key}/${props.tokenizer}`) : undefined;
  };
  const versionOptions = () =>
    (datasets() ?? []).flatMap((d) =>
      [...d.versions]
        .sort((a, b) => b.version - a.version)
        .map((v) => {
          const key = `${d.id}@${v.version}`;
          const r = ready(key);
          const mark = r === undefined ? '' : r ? ' — ready' : ` — no ${props.tokenizer} shards`;
          return {
            key,
            ready: r,
            label: `${d.name} v${v.version} (${v.step}, ${formatCount(v.documents)} docs)${mark}`,
          };
        }),
    );
  const [shardBusy, setShardBusy] = createSignal<string>();
  const [shardError, setShardError] = createSignal<string>();
  const makeShardsHere = async () => {
    const [id, v] = props.datasetKey.split('@');
    if (!id) return;
    setShardError(undefined);
    setShardBusy('starting');
    try {
      await makeShards(id, Number(v), props.tokenizer, (m) => setShardBusy(m || 'tokenizing'));
      await refetchShards();
    } catch (err) {
      setShardError(errorText(err));
    } finally {
      setShardBusy(undefined);
    }
  };
  const E = props.errors;
  /** A number field of the repeated-tokens source (2 to 4096), named `input` for its error messages. */
  const repeatField = (input: string, key: keyof RepeatedFields, label: JSX.Element) => (
    <label>
      {label}
      <input
        name={input}
        type="number"
        min="2"
        max="4096"
        required
        value={props.repeated[key]}
        aria-invalid={E.invalid(input)}
        onInput={(e) => {
          E.touched(input);
          props.onRepeated({ ...props.repeated, [key]: e.currentTarget.value });
        }}
      />
      <E.Message input={input} />
    </label>
  );

  return (
    <>
      <fieldset class="radio-row">
        <legend>Data</legend>
        <label class="inline">
          <input
            type="radio"
            name="source"
            value="dataset"
            checked={props.source === 'dataset'}
            onChange={() => props.onSource('dataset')}
          />{' '}
          a dataset version
        </label>
        <label class="inline">
          <input
            type="radio"
            name="source"
            value="path"
            checked={props.source === 'path'}
            onChange={() => props.onSource('path')}
          />{' '}
          a text file on the server
        </label>
        <label class="inline">
          <input
            type="radio"
            name="source"
            value="repeated"
            checked={props.source === 'repeated'}
            onChange={() => props.onSource('repeated')}
          />{' '}
          repeated random tokens
        </label>
      </fieldset>
      <Show when={props.source === 'repeated'}>
        <div class="preset-grid" data-testid="repeated-fields">
          {repeatField('repeatVocab', 'vocabSize', <>Vocabulary</>)}
          {repeatField(
            'repeatHalf',
            'halfLength',
            <>
              Longest run <span class="muted small">(context = 2 × this)</span>
            </>,
          )}
        </div>
      </Show>
      <Show
        when={props.source !== 'repeated' && props.source === 'dataset'}
        fallback={
          props.source === 'path' && (
            <label>
              Server path
              <input
                name="dataPath"
                required
                value={props.dataPath}
                placeholder="/path/to/input.txt"
                aria-invalid={E.invalid('dataPath')}
                onInput={(e) => {
                  E.touched('dataPath');
                  props.onDataPath(e.currentTarget.value);
                }}
              />
              <E.Message input="dataPath" />
            </label>
          )
        }
      >
        <label>
          Dataset version{' '}
          <span class="muted small">(tokenized into shards with the same tokenizer on the Data page)</span>
          <select
            name="dataset"
            value={props.datasetKey}
            aria-invalid={E.invalid('dataset')}
            onFocus={() => refetch()}
            onChange={(e) => {
              E.touched('dataset');
              props.onDatasetKey(e.currentTarget.value);
            }}
          >
            <option value="">— pick one —</option>
            <For each={versionOptions()}>
              {(o) => (
                <option
                  value={o.key}
                  data-ready={o.ready === undefined ? 'unknown' : o.ready ? 'true' : 'false'}
                >
                  {o.label}
                </option>
              )}
            </For>
          </select>
          <E.Message input="dataset" />
        </label>
        <Show when={props.datasetKey && ready(props.datasetKey) === false}>
          <div class="banner small" data-testid="train-not-ready">
            This version has no shards for the {props.tokenizer} tokenizer yet, so a run would fail.{' '}
            <button
              type="button"
              class="btn"
              data-testid="train-make-shards"
              disabled={!!shardBusy()}
              onClick={makeShardsHere}
            >
              {shardBusy() ? `Making shards… ${shardBusy()}` : 'Make shards'}
            </button>
          </div>
        </Show>
        <Show when={shardError()}>
          <div class="banner error small" role="alert">
            {shardError()}
          </div>
        </Show>
      </Show>
    </>
  );
}
