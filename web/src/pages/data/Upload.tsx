// Adding a dataset: a file dropped or picked in the browser (streamed to the service), or a path on the
// machine running it. A file that is not text is refused with the service's reason.
import { createSignal, Show } from 'solid-js';
import { dataApi, errorText } from '../../api.ts';

export function Upload(props: { onCreated: (id: string) => void }) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [warnings, setWarnings] = createSignal<string[]>([]);
  const [path, setPath] = createSignal('');
  const [name, setName] = createSignal('');
  const [over, setOver] = createSignal(false);

  const done = (r: { id: string; warnings: string[] }) => {
    setWarnings(r.warnings);
    props.onCreated(r.id);
  };
  const upload = async (file: File) => {
    setError(undefined);
    setBusy(true);
    try {
      const form = new FormData();
      form.append('file', file);
      if (name().trim()) form.append('name', name().trim());
      done(await dataApi.upload(form));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const fromPath = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      done(
        await dataApi.fromPath({ path: path().trim(), ...(name().trim() ? { name: name().trim() } : {}) }),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="card">
      <div class="card-head">
        <h2>Add a dataset</h2>
      </div>
      <label>
        Name <span class="muted small">(optional; default the file name)</span>
        <input value={name()} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label
        class="dropzone"
        classList={{ over: over() }}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const f = e.dataTransfer?.files[0];
          if (f) void upload(f);
        }}
      >
        {busy() ? 'Uploading…' : 'Drop a file here (txt, jsonl, json, csv, parquet) or click to pick one'}
        <input
          type="file"
          data-testid="data-upload"
          class="visually-hidden"
          disabled={busy()}
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            if (f) void upload(f);
            e.currentTarget.value = '';
          }}
        />
      </label>
      <form class="form inline-form" onSubmit={fromPath}>
        <label>
          …or a path on the server
          <input
            name="path"
            value={path()}
            onInput={(e) => setPath(e.currentTarget.value)}
            placeholder="/data/corpus.txt"
          />
        </label>
        <div class="form-actions">
          <button type="submit" class="btn" disabled={busy() || !path().trim()}>
            Add
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <Show when={warnings().length}>
        <div class="banner small">
          {warnings().length} warning(s): {warnings().slice(0, 3).join('; ')}
        </div>
      </Show>
    </div>
  );
}
