// The four live curves of a run: loss (training and validation on one chart, one point per step, so hovering
// an evaluation shows both), learning rate, gradient norm and throughput.
import LineChart, { type LineChartHandle } from '../../components/LineChart.tsx';

export interface RunCharts {
  loss?: LineChartHandle;
  lr?: LineChartHandle;
  grad?: LineChartHandle;
  tps?: LineChartHandle;
}

export default function Charts(props: { charts: RunCharts; lossPoints: number }) {
  const c = props.charts;
  return (
    <div class="charts">
      <div data-testid="chart-loss" data-points={props.lossPoints}>
        <LineChart
          title="Loss"
          xLabel="step"
          series={[{ label: 'train loss' }, { label: 'val loss', width: 2 }]}
          ref={(h) => {
            c.loss = h;
          }}
        />
      </div>
      <div data-testid="chart-lr">
        <LineChart
          title="Learning rate"
          xLabel="step"
          series={[{ label: 'lr', color: '#2a9d8f' }]}
          ref={(h) => {
            c.lr = h;
          }}
        />
      </div>
      <div data-testid="chart-grad">
        <LineChart
          title="Gradient norm"
          xLabel="step"
          series={[{ label: 'grad norm', color: '#e8684a' }]}
          ref={(h) => {
            c.grad = h;
          }}
        />
      </div>
      <div data-testid="chart-tps">
        <LineChart
          title="Tokens / second"
          xLabel="step"
          series={[{ label: 'tokens/s', color: '#c77dff' }]}
          ref={(h) => {
            c.tps = h;
          }}
        />
      </div>
    </div>
  );
}
