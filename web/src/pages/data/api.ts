// The Data page's calls beyond the shared client (../../api.ts): dry runs, the defaults a dataset's documents
// get, the document browser, and deletion with its dependents. Shapes follow gateway/src/routes/data.ts.
import {
  type DataStep,
  type Dataset,
  type DatasetStats,
  dataApi,
  getJSON,
  postJSON,
  type RequestOptions,
  type StepReport,
  sendJSON,
} from '../../api.ts';

/** A step's report with what the shared type does not list yet: characters, warnings, measures. */
export interface FullStepReport extends StepReport {
  charactersIn: number;
  charactersOut: number;
  warnings: string[];
  examples: (StepReport['examples'][number] & {
    measure: string;
    value: number;
    limit: number;
    limitKind: '' | 'min' | 'max' | string;
  })[];
}

/** A dataset with what the shared type does not list yet. */
export interface FullDataset extends Dataset {
  /** What one document is: paragraph, line, file or record. */
  documentSplit: string;
}

export interface StepDefaults {
  documentSplit: string;
  steps: DataStep[];
  note: string;
}

export interface DataDependent {
  kind: 'version' | 'job' | 'shards' | 'unknown';
  id: string;
  description: string;
  blocking: boolean;
  needsForce: boolean;
}

export interface Dependents {
  dependents: DataDependent[];
  versions: number[];
  bytes: number;
}

export interface Deleted {
  deletedVersions: number[];
  datasetDeleted: boolean;
  bytesFreed: number;
  dependents: DataDependent[];
}

export interface DocumentPage {
  total: number;
  documents: { index: number; text: string; split: string }[];
}

const ds = (id: string) => `/api/data/datasets/${encodeURIComponent(id)}`;

export const dataPageApi = {
  ...dataApi,
  get: (id: string, opts?: RequestOptions) => getJSON<FullDataset>(ds(id), opts),
  /** Starts a transform job; with `dryRun` it reports what the steps would do and makes no version. */
  transformJob: (id: string, body: { from?: number; steps: DataStep[]; dryRun?: boolean }) =>
    postJSON<{ jobId: string }>(`${ds(id)}/versions/jobs`, body),
  stepDefaults: (id: string, opts?: RequestOptions) => getJSON<StepDefaults>(`${ds(id)}/step-defaults`, opts),
  documents: (
    id: string,
    v: number,
    q: { offset: number; limit: number; split?: string },
    opts?: RequestOptions,
  ) =>
    getJSON<DocumentPage>(
      `${ds(id)}/versions/${v}/documents?offset=${q.offset}&limit=${q.limit}${q.split ? `&split=${encodeURIComponent(q.split)}` : ''}`,
      opts,
    ),
  stats: (
    id: string,
    v: number,
    q: { tokenizer: string; ngram: number; topK: number },
    opts?: RequestOptions,
  ) =>
    getJSON<DatasetStats>(
      `${ds(id)}/versions/${v}/stats?ngram=${q.ngram}&topK=${q.topK}${q.tokenizer ? `&tokenizer=${encodeURIComponent(q.tokenizer)}` : ''}`,
      { timeoutMs: 120_000, ...opts },
    ),
  /** What deleting the dataset (no version) or one version would affect. */
  dependents: (id: string, version?: number) =>
    getJSON<Dependents>(`${ds(id)}/dependents${version === undefined ? '' : `?version=${version}`}`, {
      timeoutMs: 30_000,
    }),
  delete: (id: string, version: number | undefined, force: boolean) =>
    sendJSON<Deleted>(
      'DELETE',
      `${version === undefined ? ds(id) : `${ds(id)}/versions/${version}`}${force ? '?force=true' : ''}`,
    ),
};
