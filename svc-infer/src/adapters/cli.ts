// `lab-infer adapters <action>`: the adapter registry from the terminal, in-process or with --remote.
import {
  type CliCommand,
  type CliValues,
  LabError,
  localCallContext,
  remoteOption,
  type ServiceImpl,
} from '@lab/common';
import type { AdapterInfo, InferServiceService } from '@lab/proto/infer';

type Backend = (values: CliValues) => ServiceImpl<typeof InferServiceService>;

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

function line(a: AdapterInfo): string {
  const lineage = a.jobId
    ? `${a.method} ${a.adapter} job ${a.jobName || a.jobId} step ${a.step} on ${a.dataset}`
    : a.mergedFrom.length
      ? `${a.mergeMethod} of ${a.mergedFrom.join(' + ')}`
      : a.source;
  return `${a.name.padEnd(32)} base ${a.base.padEnd(20)} r ${String(a.rank).padStart(3)}  α ${String(a.alpha).padStart(4)}  ${a.targets.join(',').padEnd(24)} ${lineage}`;
}

const str = (values: CliValues, name: string): string => {
  const v = values[name];
  if (typeof v !== 'string' || !v) throw new LabError('INVALID_ARGUMENT', `--${name} is required`, name);
  return v;
};

/** `name[:weight]` items of --adapter (weight 1 when left out). */
function weighted(items: readonly string[]): { name: string; weight: number }[] {
  return items.map((item, i) => {
    const at = item.lastIndexOf(':');
    const weight = at > 0 ? Number(item.slice(at + 1)) : 1;
    if (!Number.isFinite(weight))
      throw new LabError(
        'INVALID_ARGUMENT',
        `--adapter ${item}: the weight after ':' must be a number`,
        `adapters[${i}].weight`,
      );
    return { name: at > 0 ? item.slice(0, at) : item, weight };
  });
}

export function adaptersCommand(backend: Backend): CliCommand {
  return {
    summary: 'Adapters: list, import a PEFT folder, export, merge, remove',
    usage:
      'adapters list [--base NAME] | import PATH --name NAME --base BASE | export NAME PATH | export-model NAME PATH | ' +
      'merge --name NAME --base BASE --adapter NAME[:WEIGHT]... --method linear|ties|dare_linear|dare_ties [--density D] [--seed S] | rm NAME',
    options: {
      base: { type: 'string' },
      name: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      method: { type: 'string' },
      density: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    help: {
      base: 'the base model',
      name: 'name of the adapter (import) or of the merge result',
      adapter: 'an adapter to merge, NAME or NAME:WEIGHT (repeatable)',
      method: 'merge method (PEFT merge_utils names)',
      density: 'fraction kept by TIES / DARE, in (0, 1]',
      seed: "DARE's seed",
      json: 'print JSON',
    },
    run: async (values, [action, ...args]) => {
      const svc = backend(values);
      const ctx = localCallContext();
      const show = (a: AdapterInfo) => out(values.json ? JSON.stringify(a, null, 2) : line(a));
      switch (action ?? 'list') {
        case 'list': {
          const { adapters } = await svc.listAdapters!(
            { base: typeof values.base === 'string' ? values.base : '' },
            ctx,
          );
          if (values.json) out(JSON.stringify(adapters, null, 2));
          else if (!adapters.length)
            out(
              'no adapters yet: `lab-infer adapters import PATH --name NAME --base BASE`, or train a LoRA job',
            );
          else adapters.forEach(show);
          return;
        }
        case 'import':
          if (!args[0]) throw new LabError('INVALID_ARGUMENT', 'give the PEFT folder after import', 'path');
          show(
            await svc.importAdapter!(
              { name: str(values, 'name'), path: args[0], base: str(values, 'base') },
              ctx,
            ),
          );
          return;
        case 'export':
        case 'export-model': {
          if (args.length !== 2)
            throw new LabError('INVALID_ARGUMENT', `give NAME and PATH after ${action}`, 'path');
          const req = { name: args[0]!, path: args[1]! };
          const r =
            action === 'export' ? await svc.exportAdapter!(req, ctx) : await svc.exportModel!(req, ctx);
          out(`wrote ${r.files.join(', ')} (${r.bytes} bytes) to ${r.path}`);
          return;
        }
        case 'merge': {
          const items = values.adapter;
          if (!Array.isArray(items) || !items.length)
            throw new LabError(
              'INVALID_ARGUMENT',
              '--adapter: name at least one adapter to merge',
              'adapters',
            );
          const density = typeof values.density === 'string' ? Number(values.density) : undefined;
          const r = await svc.mergeAdapters!(
            {
              name: str(values, 'name'),
              base: str(values, 'base'),
              adapters: weighted(items as string[]),
              method: str(values, 'method'),
              density,
              seed: typeof values.seed === 'string' ? Number(values.seed) : 0,
              asAdapter: false,
            },
            ctx,
          );
          const f = r.fidelity!;
          out(
            values.json
              ? JSON.stringify(r, null, 2)
              : `registered ${r.model?.name}: KL ${f.klMean.toExponential(3)} nats/token (max ${f.klMax.toExponential(3)}), top-1 agreement ${(100 * f.top1Agreement).toFixed(1)}% over ${f.positions} positions of ${f.text}`,
          );
          return;
        }
        case 'rm':
          if (!args[0]) throw new LabError('INVALID_ARGUMENT', 'give the adapter name after rm', 'name');
          show(await svc.deleteAdapter!({ name: args[0] }, ctx));
          return;
        default:
          throw new LabError(
            'INVALID_ARGUMENT',
            `adapters: unknown action "${action}" (list, import, export, export-model, merge, rm)`,
            'action',
          );
      }
    },
  };
}
