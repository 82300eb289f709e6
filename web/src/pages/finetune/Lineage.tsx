// Where a fine-tuned model came from: the base, the method, the adapter's rank/alpha/targets and the data.
import { Show } from 'solid-js';
import { formatNumber } from '../../components/LineChart.tsx';
import type { Lineage } from './api.ts';

export default function LineageTable(props: { lineage: Lineage }) {
  const l = () => props.lineage;
  return (
    <table class="kv small" data-testid="ft-lineage">
      <tbody>
        <tr>
          <th>Base model</th>
          <td data-testid="lineage-base">{l().baseModel}</td>
        </tr>
        <tr>
          <th>Method</th>
          <td data-testid="lineage-method">
            {l().method === 'dpo'
              ? 'DPO (preference pairs)'
              : l().method === 'reward'
                ? 'reward model (Bradley–Terry on pairs)'
                : 'SFT (instruction → answer)'}
            <Show when={l().beta !== undefined}> · β {formatNumber(l().beta)}</Show>
          </td>
        </tr>
        <tr>
          <th>Adapter</th>
          <td data-testid="lineage-adapter">
            <Show when={l().adapter !== 'full'} fallback="full (every weight trained)">
              {l().adapter === 'qlora' ? 'QLoRA (NF4 base)' : 'LoRA'} rank{' '}
              <b data-testid="lineage-rank">{l().rank ?? '—'}</b>, alpha{' '}
              <b data-testid="lineage-alpha">{l().alpha ?? '—'}</b>
              <Show when={l().dropout !== undefined}>, dropout {formatNumber(l().dropout)}</Show>
            </Show>
          </td>
        </tr>
        <Show when={l().adapter !== 'full'}>
          <tr>
            <th>Targets</th>
            <td data-testid="lineage-targets">{l().targets.join(', ') || 'the family’s default'}</td>
          </tr>
        </Show>
        <tr>
          <th>Data</th>
          <td data-testid="lineage-data">
            <code>{l().data}</code>
          </td>
        </tr>
      </tbody>
    </table>
  );
}
