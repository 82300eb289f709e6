import { createMemo, For, Show } from 'solid-js';
import type { SamplerStage, TokenEvent } from '../../api.ts';
import { pct, showToken } from './generation.ts';

/** What each stage of the sampler chain does, for the column headers. */
const STAGES: Record<string, { label: string; what: string }> = {
  raw: { label: 'Raw logits', what: 'softmax of the model’s scores, untouched' },
  penalties: {
    label: 'Penalties',
    what: 'repetition / frequency / presence penalties and logit bias applied',
  },
  temperature: { label: 'Temperature', what: 'logits divided by the temperature, then softmax again' },
  top_k: { label: 'Top-k', what: 'only the k most likely kept, renormalised' },
  top_p: { label: 'Top-p', what: 'the smallest set reaching probability p kept, renormalised' },
  min_p: { label: 'Min-p', what: 'tokens below min-p × the top probability dropped' },
};

const MAX_ROWS = 12;

interface Row {
  id: number;
  text: string;
  /** Per stage: the probability, 0 when the stage removed it, undefined when it fell off the stage's list. */
  cells: (number | undefined)[];
}

/** Rows: every token any stage lists, in the order of the first stage (the raw distribution). */
function tableRows(stages: readonly SamplerStage[], chosen: TokenEvent): Row[] {
  const order: { id: number; text: string }[] = [];
  const seen = new Set<number>();
  for (const s of stages)
    for (const t of s.top)
      if (!seen.has(t.id)) {
        seen.add(t.id);
        order.push({ id: t.id, text: t.text });
      }
  const rows: Row[] = order.slice(0, MAX_ROWS).map((r) => ({
    ...r,
    cells: stages.map((s) => {
      const hit = s.top.find((t) => t.id === r.id);
      if (hit) return hit.logprob;
      // A stage's list that holds every token still allowed is complete: absent means removed.
      return s.allowed <= s.top.length ? 0 : undefined;
    }),
  }));
  // The drawn token always gets a row, even when it came from the tail no stage lists: its raw probability
  // is known from the token itself.
  if (!rows.some((r) => r.id === chosen.id)) {
    const listed = order.find((r) => r.id === chosen.id);
    rows.push({
      id: chosen.id,
      text: listed?.text ?? chosen.token,
      cells: stages.map((s, i) => {
        const hit = s.top.find((t) => t.id === chosen.id);
        if (hit) return hit.logprob;
        return i === 0 && s.name === 'raw' ? Math.exp(chosen.logprob) : undefined;
      }),
    });
  }
  return rows;
}

/**
 * The sampler view: the next-token distribution after each stage of the sampler chain, one column per stage and
 * one row per candidate token, so the effect of each knob on the chosen token and its rivals is visible.
 */
export default function SamplerView(props: { token?: TokenEvent; following: boolean; onFollow: () => void }) {
  const stages = () => props.token?.stages ?? [];
  const rows = createMemo(() => (props.token ? tableRows(stages(), props.token) : []));

  return (
    <div class="sampler" data-testid="sampler-view">
      <div class="card-head">
        <h3>Sampler view</h3>
        <Show when={props.token}>
          {(t) => (
            <span class="small muted">
              token #{t().index + 1} <code class="vtok">{showToken(t().token)}</code>
              {props.following ? ' · following the newest token' : ''}
            </span>
          )}
        </Show>
        <span class="spacer" />
        <Show when={!props.following}>
          <button type="button" class="btn small" onClick={() => props.onFollow()}>
            Follow newest
          </button>
        </Show>
      </div>
      <Show
        when={props.token}
        fallback={
          <p class="muted small empty">Generate something, then click a token to see how it was picked.</p>
        }
      >
        <Show
          when={stages().length}
          fallback={
            <p class="muted small empty">
              No stages for this token: switch on “Trace the sampler” in the settings and generate again.
            </p>
          }
        >
          <div class="sampler-scroll">
            <table class="sampler-table">
              <thead>
                <tr>
                  <th>token</th>
                  <For each={stages()}>
                    {(s) => (
                      <th title={STAGES[s.name]?.what ?? s.name} data-stage={s.name}>
                        <div>{STAGES[s.name]?.label ?? s.name}</div>
                        <div class="stage-allowed">{s.allowed.toLocaleString()} allowed</div>
                      </th>
                    )}
                  </For>
                </tr>
              </thead>
              <tbody>
                <For each={rows()}>
                  {(r) => (
                    <tr classList={{ chosen: r.id === props.token?.id }} data-token-id={r.id}>
                      <td class="mono stage-token">{showToken(r.text)}</td>
                      <For each={r.cells}>
                        {(p) => (
                          <td class="stage-cell">
                            <Show when={p !== undefined} fallback={<span class="muted">…</span>}>
                              <Show when={(p ?? 0) > 0} fallback={<span class="stage-cut">removed</span>}>
                                <div class="stage-bar">
                                  <span
                                    class="stage-fill"
                                    style={{ width: `${Math.max(0.5, (p ?? 0) * 100)}%` }}
                                  />
                                </div>
                                <span class="stage-pct">{pct(p ?? 0)}</span>
                              </Show>
                            </Show>
                          </td>
                        )}
                      </For>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </div>
          <p class="small muted sampler-note">
            Each column is the distribution after one more stage; the highlighted row is the token that was
            drawn from the last column. “…” means the token fell off that stage’s top list (still allowed,
            just not among the most likely).
          </p>
        </Show>
      </Show>
    </div>
  );
}
