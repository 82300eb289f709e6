// Reverse-mode autodiff over a Graph: walk the nodes backwards from a scalar loss, applying each op's
// VJP rule and summing gradients where a value fans out. The gradient nodes are appended to the same
// graph, so forward and backward run in one session.run and share the forward activations.
import { type Graph, GraphError, isFloat, type Value } from './graph.ts';
import { add, VJP } from './ops.ts';

/**
 * Append gradient nodes for d(loss)/d(wrt[i]). `seed` is the incoming gradient of the loss (defaults to
 * 1); pass a graph input to scale it, e.g. by 1/accumulation-steps. Returns one gradient per `wrt`
 * (a zero tensor where the loss does not depend on it).
 */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[], seed?: Value): Value[] {
  if (loss.shape.length !== 0)
    throw new GraphError(`gradients: loss '${loss.name}' must be a scalar, got [${loss.shape}]`);
  const lossNode = g.producer.get(loss.name);
  if (lossNode === undefined)
    throw new GraphError(`gradients: loss '${loss.name}' is not produced by a node`);

  // Forward sweep: which values depend on a wrt value (only those need gradients).
  const needs = new Set(wrt.map((v) => v.name));
  for (let i = 0; i <= lossNode; i++) {
    const n = g.nodes[i];
    if (n.inputs.some((x) => needs.has(x)))
      for (const o of n.outputs) if (isFloat(g.value(o).dtype)) needs.add(o);
  }

  const grads = new Map<string, Value>();
  const accumulate = (name: string, dv: Value): void => {
    const prev = grads.get(name);
    grads.set(name, prev ? add(g, prev, dv) : dv);
  };
  grads.set(loss.name, seed ?? g.scalar(1, loss.dtype));

  const saved = g.prefix;
  g.prefix = `${saved}grad.`;
  try {
    for (let i = lossNode; i >= 0; i--) {
      const n = g.nodes[i];
      const dys = n.outputs.map((o) => grads.get(o));
      if (dys.every((d) => d === undefined)) continue;
      if (!n.inputs.some((x) => needs.has(x))) continue;
      const composite = n.outputs.length === 1 ? g.compositeVjps.get(n.outputs[0]) : undefined;
      if (composite) {
        const dxs = composite.rule(g, dys[0]!);
        composite.inputs.forEach((x, k) => {
          const dx = dxs[k];
          if (dx && needs.has(x.name)) accumulate(x.name, dx);
        });
        continue;
      }
      const rule = VJP.get(n.op);
      if (!rule) throw new GraphError(`node '${n.name}': no VJP rule for op '${n.op}'`);
      const dxs = rule(g, n, dys);
      n.inputs.forEach((x, k) => {
        const dx = dxs[k];
        if (dx && needs.has(x)) accumulate(x, dx);
      });
    }
  } finally {
    g.prefix = saved;
  }
  return wrt.map((v) => grads.get(v.name) ?? zeros(g, v));
}

function zeros(g: Graph, v: Value): Value {
  return g.node(
    'Expand',
    [g.scalar(0, v.dtype), g.ints(v.shape as number[])],
    [{ dtype: v.dtype, shape: v.shape }],
  )[0];
}
