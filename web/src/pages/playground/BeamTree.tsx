import { createEffect, createMemo, createSignal, For } from 'solid-js';
import type { BeamNode, BeamResult } from '../../api.ts';
import { pct, showToken } from './generation.ts';

const COL = 86;
const ROW = 20;
const PAD = 8;
/** Above this many pruned nodes they start hidden: the kept tree alone stays readable. */
const PRUNED_DEFAULT_LIMIT = 60;

interface Placed {
  node: BeamNode;
  x: number;
  y: number;
  px: number;
  py: number;
}

/** Node ids along the path whose tokens are `ids`, following kept nodes from the root. */
function pathIds(children: Map<number, BeamNode[]>, ids: readonly number[]): Set<number> {
  const out = new Set<number>();
  let at = -1;
  for (const id of ids) {
    const next =
      (children.get(at) ?? []).find((c) => c.token === id && c.kept) ??
      (children.get(at) ?? []).find((c) => c.token === id);
    if (!next) break;
    out.add(next.id);
    at = next.id;
  }
  return out;
}

function layout(nodes: readonly BeamNode[], showPruned: boolean) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const children = new Map<number, BeamNode[]>();
  for (const n of nodes) {
    if (!showPruned && !n.kept && !n.finished) continue;
    // Parents the tree does not list (or -1) hang off the prompt.
    const parent = byId.has(n.parent) ? n.parent : -1;
    const list = children.get(parent) ?? [];
    list.push(n);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => b.cumulative - a.cumulative);

  const placed: Placed[] = [];
  let leaf = 0;
  const place = (id: number, depth: number): number => {
    const kids = children.get(id) ?? [];
    if (!kids.length) return PAD + ROW * leaf++ + ROW / 2;
    const ys = kids.map((k) => place(k.id, depth + 1));
    const y = (ys[0]! + ys[ys.length - 1]!) / 2;
    kids.forEach((k, i) => {
      placed.push({ node: k, x: PAD + COL * (depth + 1), y: ys[i]!, px: PAD + COL * depth, py: y });
    });
    return y;
  };
  const rootY = place(-1, 0);
  const depth = placed.reduce((m, p) => Math.max(m, p.x), 0);
  return { placed, rootY, children, width: depth + COL + PAD, height: Math.max(leaf, 1) * ROW + 2 * PAD };
}

/**
 * The beam-search tree: every hypothesis the search expanded, left to right by step, siblings ordered by their
 * cumulative log-probability. Kept hypotheses are solid, pruned ones faded, the best finished beam highlighted.
 */
export default function BeamTree(props: { tree: readonly BeamNode[]; beams: readonly BeamResult[] }) {
  const [showPruned, setShowPruned] = createSignal(
    props.tree.filter((n) => !n.kept && !n.finished).length <= PRUNED_DEFAULT_LIMIT,
  );
  let scroller!: HTMLDivElement;
  const view = createMemo(() => layout(props.tree, showPruned()));
  const best = createMemo(() => pathIds(view().children, props.beams[0]?.ids ?? []));
  // The tree is centred on its leaves, which can sit far below the top: start with the best answer in view.
  createEffect(() => {
    const ids = best();
    const end = view()
      .placed.filter((p) => ids.has(p.node.id))
      .reduce<Placed | undefined>((a, p) => (!a || p.x > a.x ? p : a), undefined);
    if (end) scroller.scrollTop = Math.max(0, end.y - scroller.clientHeight / 2);
  });
  const pruned = () => props.tree.filter((n) => !n.kept && !n.finished).length;

  return (
    <div class="beam" data-testid="beam-tree" data-nodes={props.tree.length}>
      <div class="card-head">
        <h3>Beam-search tree</h3>
        <span class="small muted">
          {props.tree.length.toLocaleString()} hypotheses expanded · {pruned().toLocaleString()} pruned
        </span>
        <span class="spacer" />
        <label class="inline small">
          <input
            type="checkbox"
            checked={showPruned()}
            onChange={(e) => setShowPruned(e.currentTarget.checked)}
          />
          show pruned
        </label>
      </div>
      <ol class="beam-results small">
        <For each={props.beams}>
          {(b, i) => (
            <li classList={{ best: i() === 0 }}>
              <span class="mono">{b.text || '∅'}</span>{' '}
              <span class="muted">
                score {b.score.toFixed(3)} · log-prob {b.logprob.toFixed(3)} · {b.ids.length} tokens ·{' '}
                {b.finishReason}
              </span>
            </li>
          )}
        </For>
      </ol>
      <div class="beam-scroll" ref={scroller}>
        <svg width={view().width} height={view().height} role="img" aria-label="Beam-search tree">
          <title>Beam-search tree</title>
          <For each={view().placed}>
            {(p) => (
              <path
                class="beam-edge"
                classList={{ best: best().has(p.node.id), pruned: !p.node.kept && !p.node.finished }}
                d={`M${p.px + 44},${p.py} C${p.px + 64},${p.py} ${p.x - 20},${p.y} ${p.x},${p.y}`}
              />
            )}
          </For>
          <g class="beam-node root">
            <rect x={PAD - 2} y={view().rootY - 8} width={48} height={16} rx={3} />
            <text x={PAD + 2} y={view().rootY + 4}>
              prompt
            </text>
          </g>
          <For each={view().placed}>
            {(p) => (
              <g
                class="beam-node"
                classList={{
                  best: best().has(p.node.id),
                  pruned: !p.node.kept && !p.node.finished,
                  finished: p.node.finished,
                }}
              >
                <title>
                  {`${JSON.stringify(p.node.text)} · p ${pct(Math.exp(p.node.logprob))} · cumulative log-prob ${p.node.cumulative.toFixed(3)} · step ${p.node.step}${p.node.finished ? ' · finished' : ''}${p.node.kept ? '' : ' · pruned'}`}
                </title>
                <rect x={p.x - 2} y={p.y - 8} width={COL - 40} height={16} rx={3} />
                <text x={p.x + 2} y={p.y + 4}>
                  {showToken(p.node.text).slice(0, 7)}
                  {p.node.finished ? ' ■' : ''}
                </text>
              </g>
            )}
          </For>
        </svg>
      </div>
    </div>
  );
}
