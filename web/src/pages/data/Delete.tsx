// Deleting a dataset or one version: what depends on it is fetched and shown first (training jobs reading it,
// versions made from it, shards that go with it); a job that will still read the data blocks the deletion,
// the rest must be confirmed.
import { createSignal, For, Show } from 'solid-js';
import { errorText } from '../../api.ts';
import { type Dependents, dataPageApi } from './api.ts';
import { fmt } from './job.tsx';

const size = (bytes: number) =>
  bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${fmt(Math.ceil(bytes / 1024))} KiB`;

export function DeleteControl(props: {
  datasetId: string;
  /** One version; undefined for the whole dataset. */
  version?: number;
  label: string;
  onDeleted: () => void;
}) {
  const [deps, setDeps] = createSignal<Dependents>();
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const what = () => (props.version === undefined ? 'this dataset' : `v${props.version}`);
  const blocking = () => deps()?.dependents.filter((d) => d.blocking) ?? [];
  const needsForce = () => deps()?.dependents.some((d) => d.needsForce) ?? false;

  const open = async () => {
    setError(undefined);
    setBusy(true);
    try {
      setDeps(await dataPageApi.dependents(props.datasetId, props.version));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const confirm = async () => {
    setError(undefined);
    setBusy(true);
    try {
      await dataPageApi.delete(props.datasetId, props.version, needsForce());
      setDeps(undefined);
      props.onDeleted();
    } catch (err) {
      setError(errorText(err));
      // What depends on it may have changed meanwhile (a job started): show it again.
      void open();
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button
        type="button"
        class="btn small danger"
        data-testid={props.version === undefined ? 'data-delete' : `data-delete-v${props.version}`}
        disabled={busy()}
        onClick={() => void open()}
      >
        {props.label}
      </button>
      <Show when={deps() || error()}>
        <div class="card" data-testid="data-delete-panel" role="dialog" aria-label={`Delete ${what()}`}>
          <Show when={deps()}>
            {(d) => (
              <>
                <p class="small">
                  Deleting {what()} removes{' '}
                  {d()
                    .versions.map((v) => `v${v}`)
                    .join(', ')}{' '}
                  ({size(d().bytes)} on disk).
                  <Show when={!d().dependents.length}> Nothing else depends on it.</Show>
                </p>
                <ul class="small" data-testid="data-dependents">
                  <For each={d().dependents}>
                    {(x) => (
                      <li
                        data-kind={x.kind}
                        data-id={x.id}
                        data-blocking={x.blocking ? 'true' : 'false'}
                        classList={{ 'error-text': x.blocking, 'warn-text': !x.blocking && x.needsForce }}
                      >
                        {x.description}
                      </li>
                    )}
                  </For>
                </ul>
              </>
            )}
          </Show>
          <Show when={error()}>
            <div class="banner error small" role="alert">
              {error()}
            </div>
          </Show>
          <div class="form-actions">
            <button
              type="button"
              class="btn danger"
              data-testid="data-delete-confirm"
              disabled={busy() || !deps() || blocking().length > 0}
              onClick={() => void confirm()}
            >
              {blocking().length
                ? 'Cannot delete while a job uses it'
                : needsForce()
                  ? 'Delete anyway'
                  : 'Delete'}
            </button>
            <button
              type="button"
              class="btn"
              onClick={() => {
                setDeps(undefined);
                setError(undefined);
              }}
            >
              Cancel
            </button>
          </div>
        </div>
      </Show>
    </>
  );
}
