// The items of a run, as the model saw and scored them. A multiple-choice item lists every choice with its
// total log-likelihood and its log-likelihood per character, marking the right answer, the choice acc picks
// (highest total) and the one acc_norm picks (highest per character): where those two differ, the choices'
// lengths decided the answer.
import { createEffect, createResource, createSignal, For, on, Show } from 'solid-js';
import { type EvalChoice, type EvalItem, errorText, evalApi } from '../../api.ts';
import { formatNumber } from '../../components/LineChart.tsx';

const PAGE = 5;
/** Prompts longer than this (few-shot examples) show their end, with the rest behind a toggle. */
const PROMPT_TAIL = 500;

/** A multiple-choice item's verdict per metric (`details` is `{acc: true, acc_norm: false, …}`). */
function verdicts(item: EvalItem): [string, boolean][] {
  const d = item.details;
  if (!item.choices.length || !d || typeof d !== 'object' || Array.isArray(d)) return [];
  return Object.entries(d as Record<string, unknown>).filter(
    (e): e is [string, boolean] => typeof e[1] === 'boolean',
  );
}

const argmax = (xs: readonly number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

/** Each choice's share of the probability the model gives all the choices (a softmax of the logliks). */
function shares(choices: readonly EvalChoice[]): number[] {
  const max = Math.max(...choices.map((c) => c.loglik));
  const e = choices.map((c) => Math.exp(c.loglik - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

const pct = (x: number) => (x < 1e-4 ? '<0.01%' : `${formatNumber(100 * x)}%`);

/** Spaces and newlines made visible at a choice's edges, where they decide its tokens. */
const visible = (s: string) => s.replace(/^ /, '␣').replace(/\n/g, '⏎\n');

function Prompt(props: { text: string }) {
  const [all, setAll] = createSignal(false);
  const long = () => props.text.length > PROMPT_TAIL + 80;
  return (
    <div class="eval-prompt-text">
      <Show when={long() && !all()}>
        <button type="button" class="link small" onClick={() => setAll(true)}>
          … {(props.text.length - PROMPT_TAIL).toLocaleString()} earlier characters (description, few-shot
          examples): show all
        </button>
      </Show>
      <pre class="sample">{long() && !all() ? props.text.slice(-PROMPT_TAIL) : props.text}</pre>
    </div>
  );
}

function Choices(props: { item: EvalItem }) {
  const c = () => props.item.choices;
  const accPick = () => argmax(c().map((x) => x.loglik));
  const normPick = () => argmax(c().map((x) => x.loglikNorm));
  const gold = () => c().findIndex((x) => x.gold);
  const p = () => shares(c());
  const letter = (i: number) => String.fromCharCode(65 + i);
  return (
    <>
      <table class="table eval-choices" data-testid="eval-choices">
        <thead>
          <tr>
            <th />
            <th>Choice (as scored, after the prompt)</th>
            <th class="num" title="Tokens the choice was cut into">
              Tokens
            </th>
            <th class="num" title="log P(choice | prompt): the sum of its tokens' log-probabilities">
              loglik
            </th>
            <th
              class="num"
              title="loglik divided by the choice's length in characters (what acc_norm compares)"
            >
              loglik / char
            </th>
            <th
              class="num"
              title="Share of the probability the model gives all the choices (softmax of loglik)"
            >
              P among choices
            </th>
            <th>Picked by</th>
          </tr>
        </thead>
        <tbody>
          <For each={c()}>
            {(ch, i) => (
              <tr
                class="eval-choice"
                classList={{ gold: ch.gold }}
                data-testid="eval-choice"
                data-gold={String(ch.gold)}
                data-acc-pick={String(i() === accPick())}
                data-norm-pick={String(i() === normPick())}
              >
                <td class="mono">{letter(i())}</td>
                <td>
                  <span class="vtok eval-choice-text">{visible(ch.text)}</span>
                  <Show when={ch.gold}>
                    <span class="badge" title="The right answer">
                      ✓ right answer
                    </span>
                  </Show>
                  <Show when={ch.greedy}>
                    <span class="badge eval-greedy" title="Greedy decoding would write exactly this choice">
                      greedy
                    </span>
                  </Show>
                </td>
                <td class="num">{ch.tokens}</td>
                <td class="num mono eval-ll" data-value={ch.loglik}>
                  {ch.loglik.toFixed(3)}
                </td>
                <td class="num mono eval-lln" data-value={ch.loglikNorm}>
                  {ch.loglikNorm.toFixed(4)}
                </td>
                <td class="num">{pct(p()[i()]!)}</td>
                <td class="small">
                  <Show when={i() === accPick()}>
                    <span class="pick pick-acc" classList={{ right: ch.gold }}>
                      acc
                    </span>
                  </Show>
                  <Show when={i() === normPick()}>
                    <span class="pick pick-norm" classList={{ right: ch.gold }}>
                      acc_norm
                    </span>
                  </Show>
                </td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <p class="small muted eval-why" data-testid="eval-why">
        <Show
          when={accPick() !== normPick()}
          fallback={
            <>
              acc and acc_norm agree on {letter(accPick())}
              {accPick() === gold() ? ', the right answer.' : `; the right answer was ${letter(gold())}.`}
            </>
          }
        >
          acc picks {letter(accPick())} (highest total log-likelihood, {c()[accPick()]!.tokens} tokens) but
          acc_norm picks {letter(normPick())} (highest per character): the choices’ lengths decided.{' '}
          {gold() === accPick()
            ? 'acc was right.'
            : gold() === normPick()
              ? 'acc_norm was right.'
              : 'Both were wrong.'}
        </Show>
      </p>
    </>
  );
}

/** HumanEval and judge items: what the model wrote, and what it was checked against. */
function Outputs(props: { item: EvalItem }) {
  const details = () =>
    Array.isArray(props.item.details) ? (props.item.details as Record<string, unknown>[]) : [];
  const judge = () =>
    !Array.isArray(props.item.details) && props.item.details && typeof props.item.details === 'object'
      ? (props.item.details as Record<string, unknown>)
      : undefined;
  return (
    <div class="eval-outputs">
      <For each={props.item.outputs}>
        {(o, i) => (
          <div>
            <div class="small muted">
              Answer {props.item.outputs.length > 1 ? i() + 1 : ''}
              <Show when={details()[i()]}>
                {(d) => (
                  <>
                    {' · '}
                    <b classList={{ 'error-text': d().status !== 'passed' }}>{String(d().status)}</b>
                    <Show when={d().ms !== undefined}> in {String(d().ms)} ms</Show>
                  </>
                )}
              </Show>
            </div>
            <pre class="sample">{o}</pre>
            <Show when={typeof details()[i()]?.stderr === 'string' && details()[i()]?.stderr}>
              <pre class="sample eval-stderr">{String(details()[i()]?.stderr)}</pre>
            </Show>
          </div>
        )}
      </For>
      <Show when={props.item.references.length}>
        <details>
          <summary class="small">Reference</summary>
          <For each={props.item.references}>{(r) => <pre class="sample">{r}</pre>}</For>
        </details>
      </Show>
      <Show when={judge()}>
        {(j) => (
          <details>
            <summary class="small">The judge’s verdict</summary>
            <pre class="sample">
              {typeof j().judgement === 'string'
                ? String(j().judgement)
                : Array.isArray(j().judgements)
                  ? (j().judgements as string[]).join('\n\n— other order —\n\n')
                  : JSON.stringify(j(), null, 2)}
            </pre>
          </details>
        )}
      </Show>
    </div>
  );
}

export default function Items(props: {
  runId: string;
  groups: string[];
  group: string;
  onGroup: (g: string) => void;
}) {
  const [wrong, setWrong] = createSignal(false);
  const [offset, setOffset] = createSignal(0);
  createEffect(on([wrong, () => props.group], () => setOffset(0), { defer: true }));
  const [page] = createResource(
    () => ({ id: props.runId, wrong: wrong(), group: props.group, offset: offset() }),
    (q) => evalApi.items(q.id, { wrong: q.wrong, group: q.group, offset: q.offset, limit: PAGE }),
  );
  const total = () => page.latest?.total ?? 0;

  return (
    <div class="eval-items" data-testid="eval-items">
      <div class="pager">
        <h3 class="small eval-h3">Items</h3>
        <label class="inline small">
          <input
            type="checkbox"
            checked={wrong()}
            onChange={(e) => setWrong(e.currentTarget.checked)}
            data-testid="eval-wrong-only"
          />
          only the ones the model got wrong
        </label>
        <Show when={props.groups.length}>
          <select
            class="small"
            value={props.group}
            onChange={(e) => props.onGroup(e.currentTarget.value)}
            aria-label="Subject"
            data-testid="eval-item-group"
          >
            <option value="">every subject</option>
            <For each={props.groups}>{(g) => <option value={g}>{g}</option>}</For>
          </select>
        </Show>
        <span class="spacer" />
        <button
          type="button"
          class="btn small"
          disabled={offset() === 0}
          onClick={() => setOffset(Math.max(0, offset() - PAGE))}
          data-testid="eval-items-prev"
        >
          ‹ Prev
        </button>
        <span class="small" data-testid="eval-items-range" data-total={total()}>
          {total() ? `${offset() + 1}–${Math.min(total(), offset() + PAGE)} of ${total()}` : '0 items'}
        </span>
        <button
          type="button"
          class="btn small"
          disabled={offset() + PAGE >= total()}
          onClick={() => setOffset(offset() + PAGE)}
          data-testid="eval-items-next"
        >
          Next ›
        </button>
      </div>
      <Show when={page.error}>
        <div class="banner error small">{errorText(page.error)}</div>
      </Show>
      <div classList={{ stale: page.loading }}>
        <For
          each={page.latest?.items ?? []}
          fallback={
            <p class="muted small empty">
              {page.loading
                ? 'Loading…'
                : wrong()
                  ? 'No wrong items: the model got every one right.'
                  : 'No items.'}
            </p>
          }
        >
          {(item) => (
            <div
              class="eval-item"
              data-testid="eval-item"
              data-index={item.index}
              data-correct={String(item.correct)}
            >
              <div class="eval-item-head small">
                <b>#{item.index + 1}</b>
                <span class="muted mono">{item.id}</span>
                <Show when={item.group}>
                  <span class="pill">{item.group}</span>
                </Show>
                <Show when={!verdicts(item).length}>
                  <span class={item.correct ? 'ok-text' : 'error-text'}>
                    {item.correct ? '✓ right' : '✗ wrong'}
                  </span>
                </Show>
                <For each={verdicts(item)}>
                  {([metric, right]) => (
                    <span
                      class="pick"
                      classList={{ right }}
                      data-testid="eval-verdict"
                      data-metric={metric}
                      data-right={String(right)}
                      title={`${metric}: ${right ? 'right' : 'wrong'}`}
                    >
                      {metric} {right ? '✓' : '✗'}
                    </span>
                  )}
                </For>
                <Show when={item.choices.length === 0}>
                  <span class="muted">score {formatNumber(item.score)}</span>
                </Show>
              </div>
              <Prompt text={item.prompt} />
              <Show when={item.choices.length} fallback={<Outputs item={item} />}>
                <Choices item={item} />
              </Show>
            </div>
          )}
        </For>
      </div>
    </div>
  );
}
