// Eval runs and their scored items in svc-eval's lmdb store. Items are kept under the run's id in index
// order, so a page of them (or only the wrong ones) reads without loading the whole run.
import type { Store } from '@lab/common';
import type { EvalItem, EvalRun } from '@lab/proto/eval';

const runKey = (id: string) => `run:${id}`;
const itemKey = (id: string, index: number) => `item:${id}:${String(index).padStart(9, '0')}`;

export class RunStore {
  constructor(private readonly db: Store) {}

  get(id: string): EvalRun | undefined {
    return this.db.get(runKey(id)) as EvalRun | undefined;
  }

  put(run: EvalRun): void {
    this.db.putSync(runKey(run.id), run);
  }

  /** Newest first. */
  list(): EvalRun[] {
    const out: EvalRun[] = [];
    for (const { value } of this.db.getRange({ start: 'run:', end: 'run;' })) out.push(value as EvalRun);
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  addItems(id: string, items: readonly EvalItem[]): void {
    this.db.transactionSync(() => {
      for (const item of items) this.db.putSync(itemKey(id, item.index), item);
    });
  }

  /** Drops a run's items (a run that starts again after a restart scores them anew). */
  clearItems(id: string): void {
    this.db.transactionSync(() => {
      for (const { key } of this.db.getRange({ start: `item:${id}:`, end: `item:${id};` }))
        this.db.removeSync(key);
    });
  }

  *items(id: string): Generator<EvalItem> {
    for (const { value } of this.db.getRange({ start: `item:${id}:`, end: `item:${id};` }))
      yield value as EvalItem;
  }
}
