// The Data page's calls beyond the shared client (../../api.ts): dry runs, the defaults a dataset's documents
// get, the document browser, and deletion with its dependents. Shapes are gateway/src/routes/data.ts's.
import {
  type Dataset,
  type DatasetStats,
  dataApi,
  getJSON,
  type RequestOptions,
  type ResponseOf,
  type Routes,
  type StepReport,
  sendJSON,
} from '../../api.ts';

type Data = Routes['data'];
/** A step's report: counts, characters, warnings, examples with what they were measured by. */
export type FullStepReport = StepReport;
/** A dataset with what one of its documents is (paragraph, line, file or record). */
export type FullDataset = Dataset;
export type StepDefaults = ResponseOf<Data['stepDefaults'], 200>;
export type Dependents = ResponseOf<Data['dependents'], 200>;
export type DataDependent = Dependents['dependents'][number];
export type Deleted = ResponseOf<Data['deleteDataset'], 200>;
export type DocumentPage = ResponseOf<Data['documents'], 200>;

const ds = (id: string) => `/api/data/datasets/${encodeURIComponent(id)}`;

export const dataPageApi = {
  ...dataApi,
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
