// The induction-head chart of a job on repeated random tokens: the loss on each half of the held-out sequences
// and the best head's induction score, per evaluation. The phase change shows as the second-half loss
// dropping away from the first half's (which stays near ln vocab) while the score climbs towards 1.
import { Show } from 'solid-js';
import LineChart from '../../components/LineChart.tsx';
import type { EvalEvent } from './types.ts';

type Induction = NonNullable<EvalEvent['induction']>;

export default function InductionChart(props: { evals: EvalEvent[] }) {
  const points = () =>
    props.evals.filter((e): e is EvalEvent & { induction: Induction } => e.induction !== undefined);
  const data = (): [number[], number[], number[], number[]] => {
    const p = points();
    return [
      p.map((e) => e.step),
      p.map((e) => e.induction.firstHalfLoss),
      p.map((e) => e.induction.secondHalfLoss),
      p.map((e) => e.induction.inductionScore),
    ];
  };
  const best = () => points().at(-1)?.induction;
  return (
    <Show when={points().length > 0}>
      <div data-testid="chart-induction" data-points={points().length}>
        <LineChart
          title="Induction heads"
          xLabel="step"
          yLabel="loss"
          rightLabel="induction score"
          series={[
            { label: 'first-half loss', color: '#6c757d' },
            { label: 'second-half loss', color: '#4f6bed', width: 2 },
            { label: 'best head’s induction score', color: '#e63976', width: 2, right: true },
          ]}
          data={data()}
        />
        <Show when={best()}>
          {(b) => (
            <p class="muted small" data-testid="induction-best">
              Best head: layer {b().bestLayer}, head {b().bestHead} (score {b().inductionScore.toFixed(2)}).
              Open a checkpoint of this job in the Attention page (its link under Checkpoints) and run the
              induction test to see its pattern: each token of the repeat looks at the token after its earlier
              occurrence.
            </p>
          )}
        </Show>
      </div>
    </Show>
  );
}
