// What depends on a dataset or one of its versions, so deleting it is decided with that in view: versions made
// from it (they keep their documents but lose their parent), its token shards (deleted with it), and training
// jobs of svc-train that name it (asked over gRPC: no service reads another's storage).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callUnary, createClient, fromServiceError } from '@lab/common';
import type { Dependent } from '@lab/proto/data';
import { type Job, TrainServiceClient } from '@lab/proto/train';
import type { DatasetRecord } from './registry.ts';

/** Job states in which svc-train will still read the data (a paused job reads it again on resume). */
const ACTIVE = new Set(['queued', 'running', 'paused']);

/** Every training job of svc-train, or the reason they could not be listed. */
export async function listTrainJobs(address: string): Promise<Job[] | { error: string }> {
  const client = createClient(TrainServiceClient, address, { deadlineMs: 5000 });
  try {
    const jobs: Job[] = [];
    for (;;) {
      const page = await callUnary(client.listJobs.bind(client), {
        page: { offset: jobs.length, limit: 1000 },
        state: '',
      });
      jobs.push(...page.jobs);
      if (!page.jobs.length || jobs.length >= page.total) return jobs;
    }
  } catch (err) {
    // grpc-js appends a resolver note that says nothing to a person.
    return { error: fromServiceError(err).message.replace(/\.?\s*Resolution note:.*$/s, '') };
  } finally {
    client.close();
  }
}

/** Shard folders (one per tokenizer) of a version folder, with their token counts. */
function shardsOf(versionDir: string): { tokenizer: string; tokens: number }[] {
  const root = join(versionDir, 'shards');
  if (!existsSync(root)) return [];
  const out: { tokenizer: string; tokens: number }[] = [];
  for (const name of readdirSync(root)) {
    try {
      const index = JSON.parse(readFileSync(join(root, name, 'index.json'), 'utf8')) as { tokens: number };
      out.push({ tokenizer: name, tokens: index.tokens });
    } catch {
      // an unfinished or foreign folder: not shards anyone reads
    }
  }
  return out;
}

/**
 * What depends on `version` of `dataset` (or on the whole dataset when `version` is undefined), blocking
 * ones first. `jobs` is svc-train's answer; `dirOf` gives a version's folder.
 */
export function findDependents(
  dataset: DatasetRecord,
  version: number | undefined,
  jobs: Job[] | { error: string },
  dirOf: (version: number) => string,
): Dependent[] {
  const out: Dependent[] = [];
  const what = version === undefined ? `dataset ${dataset.id}` : `v${version}`;
  const gone = dataset.versions.filter((v) => version === undefined || v.version === version);
  const latest = dataset.versions.at(-1)?.version;

  if ('error' in jobs) {
    out.push({
      kind: 'unknown',
      id: 'svc-train',
      description: `svc-train did not answer (${jobs.error}), so the training jobs that use ${what} could not be checked`,
      blocking: false,
      needsForce: true,
    });
  } else {
    for (const j of jobs) {
      const req = j.request;
      if (req?.datasetId !== dataset.id) continue;
      // Version 0 in a job means "the latest", which this version is only while it is the last one.
      const reads = req.datasetVersion || latest;
      if (version !== undefined && reads !== version) continue;
      const name = j.name ? `"${j.name}" (${j.id})` : j.id;
      if (ACTIVE.has(j.state)) {
        out.push({
          kind: 'job',
          id: j.id,
          description: `training job ${name} is ${j.state} and reads ${what}: cancel it or let it finish first`,
          blocking: true,
          needsForce: false,
        });
      } else {
        out.push({
          kind: 'job',
          id: j.id,
          description: `training job ${name} (${j.state}) was trained on v${reads}; its checkpoints stay, its data source goes`,
          blocking: false,
          needsForce: true,
        });
      }
    }
  }
  if (version !== undefined) {
    for (const child of dataset.versions.filter((v) => v.parent === version)) {
      out.push({
        kind: 'version',
        id: String(child.version),
        description: `v${child.version} was made from v${version} (${child.step}); it stays, with its lineage pointing at a deleted version`,
        blocking: false,
        needsForce: true,
      });
    }
  }
  for (const v of gone) {
    for (const s of shardsOf(dirOf(v.version))) {
      out.push({
        kind: 'shards',
        id: `v${v.version}/${s.tokenizer}`,
        description: `v${v.version}'s ${s.tokenizer} shards (${s.tokens} tokens) are deleted with it`,
        blocking: false,
        needsForce: false,
      });
    }
  }
  return out.sort((a, b) => Number(b.blocking) - Number(a.blocking));
}
