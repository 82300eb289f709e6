// Which dataset versions have shards for a tokenizer (what a training job reads), from svc-data's dependents:
// each shard folder is listed as a dependent `v<version>/<tokenizer>` of its dataset.
import { dataApi } from '../../api.ts';
import { dataPageApi } from '../data/api.ts';
import { followDataJob } from '../data/job.tsx';

/** `<dataset id>@<version>/<tokenizer>` for every shard folder of these datasets; datasets that fail are left out. */
export async function shardKeys(datasetIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  await Promise.all(
    datasetIds.map(async (id) => {
      try {
        const deps = await dataPageApi.dependents(id);
        for (const d of deps.dependents) {
          const m = d.kind === 'shards' ? /^v(\d+)\/(.+)$/.exec(d.id) : null;
          if (m) out.add(`${id}@${Number(m[1])}/${m[2]}`);
        }
      } catch {
        // unknown readiness: shown as such
      }
    }),
  );
  return out;
}

/** Tokenizes a version into shards for `tokenizer`; resolves when done, rejects with svc-data's message. */
export async function makeShards(
  datasetId: string,
  version: number,
  tokenizer: string,
  onProgress: (message: string) => void,
): Promise<void> {
  const { jobId } = await dataApi.shardsJob(datasetId, version, { tokenizer });
  await new Promise<void>((resolve, reject) => {
    followDataJob(jobId, (p) => {
      onProgress(p.message);
      if (p.state === 'done') resolve();
      else if (p.state === 'failed') reject(new Error(p.error?.message || p.message || 'tokenizing failed'));
    });
  });
}
