// Adapters as the Playground's comparison needs them: svc-infer's list (GET /api/infer/adapters) with each
// one's lineage, and the link that opens the comparison of a base and a fine-tune of it.
import { getJSON, type ModelInfo, type RequestOptions, type ResponseOf, type Routes } from '../../api.ts';

type AdapterList = ResponseOf<Routes['adapters']['list'], 200>;
/** A LoRA adapter of a base model; checkpoint adapters carry the job's lineage. */
export type AdapterInfo = AdapterList['adapters'][number];

export const adaptersApi = {
  list: (opts?: RequestOptions) => getJSON<AdapterList>('/api/infer/adapters', opts),
};

/** The Playground's side-by-side view on `a` (left) and `b` (right), e.g. a base and its fine-tune. */
export const compareHref = (a: string, b: string) =>
  `#/playground?mode=compare&a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;

/** The comparison a link asks for (`mode=compare&a=…&b=…`), if any. */
export function compareFromHash(hash = location.hash): { a?: string; b?: string } | undefined {
  const q = new URLSearchParams(hash.split('?')[1] ?? '');
  if (q.get('mode') !== 'compare') return undefined;
  return { a: q.get('a') ?? undefined, b: q.get('b') ?? undefined };
}

/** The adapter a served model name is: by name, or a checkpoint adapter by `<job id>@<step>`. */
export function adapterOf(adapters: readonly AdapterInfo[], model: ModelInfo | undefined, name: string) {
  return adapters.find(
    (a) =>
      a.name === name ||
      (a.jobId && `${a.jobId}@${a.step}` === name) ||
      (model?.jobId && a.jobId === model.jobId && a.step === model.step),
  );
}

const METHOD: Record<string, string> = { sft: 'SFT', dpo: 'DPO', reward: 'reward model' };

/** One line of where an adapter came from: its base, job and step, method and LoRA settings. */
export function lineageText(a: AdapterInfo): string {
  const kind = `${a.adapter === 'qlora' ? 'QLoRA' : 'LoRA'} r${a.rank} α${a.alpha}`;
  if (a.source === 'checkpoint')
    return `adapter of ${a.base} · job ${a.jobName || a.jobId} (${a.jobId}) at step ${a.step} · ${
      METHOD[a.method] ?? a.method
    } · ${kind}${a.dataset ? ` · data ${a.dataset}` : ''}`;
  if (a.source === 'merged')
    return `adapter of ${a.base} · ${a.mergeMethod} merge of ${a.mergedFrom.join(', ')} · ${kind}`;
  return `adapter of ${a.base} · imported from a PEFT folder · ${kind}`;
}
