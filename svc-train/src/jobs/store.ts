// Jobs and their event history in the service's lmdb store. Every change that must be atomic (claiming a
// job, appending events with their sequence numbers) runs in one synchronous write transaction, which lmdb
// serialises across processes too: several svc-train processes sharing $LAB_HOME/train/db never both claim
// a job or hand out one sequence number twice.
import type { Store } from '@lab/common';
import type { JobPoint, JobRecord } from './types.ts';

const jobKey = (id: string) => `job:${id}`;
const pointKey = (id: string, seq: number) => `pt:${id}:${String(seq).padStart(12, '0')}`;

export type NewPoint = Omit<JobPoint, 'seq' | 'time' | 'state'> & { state?: JobPoint['state'] };

export class JobStore {
  constructor(private readonly db: Store) {}

  get(id: string): JobRecord | undefined {
    return this.db.get(jobKey(id)) as JobRecord | undefined;
  }

  create(rec: JobRecord, first: NewPoint): JobPoint[] {
    return this.db.transactionSync(() => {
      this.db.putSync(jobKey(rec.id), rec);
      return this.appendIn(rec, [first]);
    });
  }

  list(): JobRecord[] {
    const out: JobRecord[] = [];
    for (const { value } of this.db.getRange({ start: 'job:', end: 'job;' })) out.push(value as JobRecord);
    return out;
  }

  /**
   * Reads the job, lets `change` edit a copy and return the events to append (or undefined to change
   * nothing), and writes both in one transaction. Answers the record as stored afterwards and the events.
   */
  mutate(
    id: string,
    change: (rec: JobRecord) => NewPoint[] | undefined,
  ): { rec: JobRecord | undefined; points: JobPoint[]; changed: boolean } {
    return this.db.transactionSync(() => {
      const cur = this.db.get(jobKey(id)) as JobRecord | undefined;
      if (!cur) return { rec: undefined, points: [], changed: false };
      const next = structuredClone(cur);
      const add = change(next);
      if (!add) return { rec: cur, points: [], changed: false };
      next.updatedAt = new Date().toISOString();
      const points = this.appendIn(next, add);
      this.db.putSync(jobKey(id), next);
      return { rec: next, points, changed: true };
    });
  }

  private appendIn(rec: JobRecord, add: NewPoint[]): JobPoint[] {
    const time = new Date().toISOString();
    const points: JobPoint[] = [];
    for (const p of add) {
      const point = { ...p, seq: ++rec.lastSeq, time, state: p.state ?? rec.state } as JobPoint;
      this.db.putSync(pointKey(rec.id, point.seq), point);
      points.push(point);
    }
    if (points.length) this.db.putSync(jobKey(rec.id), rec);
    return points;
  }

  /** Stored events with a sequence above `afterSeq`, oldest first. */
  points(id: string, afterSeq: number, limit = 1000): JobPoint[] {
    const out: JobPoint[] = [];
    for (const { value } of this.db.getRange({
      start: pointKey(id, afterSeq + 1),
      end: `pt:${id};`,
      limit,
    }))
      out.push(value as JobPoint);
    return out;
  }
}
