// The logit lens as a table: a row per residual stream, a column per position, each cell the token the
// stream would predict next if the model stopped there, coloured by its probability.
import { For } from 'solid-js';
import type { TraceSummary } from '../../api.ts';
import { heat, heatInk, shown, streamName } from './api.ts';

export function LensTable(props: { summary: TraceSummary }) {
  const s = () => props.summary;
  const T = () => s().tokens.length;
  // The top row is the model's output: read top-down, predictions form as the layers go by.
  const rows = () => [...s().streams].reverse();
  return (
    <div class="table-scroll" style={{ 'max-height': 'none' }}>
      <table
        class="small"
        data-testid="lens-table"
        data-streams={s().streams.length}
        data-tokens={T()}
        style={{ 'border-collapse': 'collapse', 'font-family': 'var(--mono, monospace)' }}
      >
        <thead>
          <tr>
            <th />
            <For each={s().tokens}>
              {(t) => (
                <th class="lens-token" style={{ 'font-weight': 'normal' }}>
                  {shown(t.text)}
                </th>
              )}
            </For>
          </tr>
        </thead>
        <tbody>
          <For each={rows()}>
            {(stream) => (
              <tr>
                <th style={{ 'text-align': 'right', 'white-space': 'nowrap', 'font-weight': 'normal' }}>
                  {streamName(stream.layer)}
                </th>
                <For each={stream.lens}>
                  {(pos, t) => {
                    const next = () => s().tokens[t() + 1]?.id;
                    const hit = () => next() !== undefined && pos.ids[0] === next();
                    return (
                      <td
                        data-testid="lens-cell"
                        data-stream={stream.layer}
                        data-pos={t()}
                        data-prob={pos.probs[0]}
                        title={`${streamName(stream.layer)}, after “${shown(s().tokens[t()]!.text)}”: ${pos.texts
                          .map((x, i) => `${shown(x)} ${(pos.probs[i]! * 100).toFixed(1)}%`)
                          .join(
                            ', ',
                          )}${next() !== undefined ? ` · actual next ${(pos.targetProb * 100).toFixed(1)}%` : ''}`}
                        style={{
                          background: heat(pos.probs[0] ?? 0),
                          color: heatInk(pos.probs[0] ?? 0),
                          padding: '2px 4px',
                          'text-align': 'center',
                          outline: hit() ? '2px solid #2a7' : undefined,
                          'outline-offset': '-2px',
                        }}
                      >
                        <div class="lens-top">{shown(pos.texts[0] ?? '')}</div>
                        <div style={{ 'font-size': '10px', opacity: 0.75 }}>{pos.probs[0]!.toFixed(2)}</div>
                      </td>
                    );
                  }}
                </For>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}
