// The residual stream's size through the layers, and how much each layer's attention and MLP write into
// it: a stream that grows mostly from MLPs, or a layer whose attention adds almost nothing, shows here.
import { createSignal, For } from 'solid-js';
import type { TraceSummary } from '../../api.ts';
import LineChart from '../../components/LineChart.tsx';
import { shown } from './api.ts';

const mean = (x: readonly number[]) => (x.length ? x.reduce((a, b) => a + b, 0) / x.length : 0);

export function NormCharts(props: { summary: TraceSummary }) {
  /** −1: averaged over the positions; else one position. */
  const [pos, setPos] = createSignal(-1);
  const pick = (x: readonly number[]) => (pos() < 0 ? mean(x) : (x[pos()] ?? 0));
  const streams = () => props.summary.streams;
  const blocks = () => streams().slice(0, -1);
  const residData = (): [number[], number[]] => [
    streams().map((s) => s.layer),
    streams().map((s) => pick(s.residNorm)),
  ];
  const addData = (): [number[], number[], number[]] => [
    blocks().map((s) => s.layer),
    blocks().map((s) => pick(s.attnNorm)),
    blocks().map((s) => pick(s.mlpNorm)),
  ];
  return (
    <div>
      <label class="small">
        Position{' '}
        <select
          data-testid="norm-position"
          value={pos()}
          onChange={(e) => setPos(Number(e.currentTarget.value))}
        >
          <option value={-1}>mean over the tokens</option>
          <For each={props.summary.tokens}>
            {(t, i) => <option value={i()}>{`${i()}: ${shown(t.text)}`}</option>}
          </For>
        </select>
      </label>
      <div style={{ display: 'grid', 'grid-template-columns': '1fr 1fr', gap: '12px' }}>
        <div data-testid="norm-resid" data-values={JSON.stringify(residData()[1])}>
          <LineChart
            title="Residual-stream norm"
            xLabel="stream (0 = embeddings, n = after layer n − 1)"
            series={[{ label: '‖residual‖' }]}
            data={residData()}
            height={200}
          />
        </div>
        <div
          data-testid="norm-blocks"
          data-attn={JSON.stringify(addData()[1])}
          data-mlp={JSON.stringify(addData()[2])}
        >
          <LineChart
            title="What each layer adds"
            xLabel="layer"
            series={[{ label: '‖attention out‖' }, { label: '‖MLP out‖' }]}
            data={addData()}
            height={200}
          />
        </div>
      </div>
    </div>
  );
}
