// Training text from a dataset version of svc-data. svc-tokenize never reads svc-data's store: it asks over
// gRPC, a page of documents at a time, so a large version streams through with bounded memory.
import { callUnary, createClient, fromServiceError, LabError } from '@lab/common';
import { DataServiceClient } from '@lab/proto/data';

/** A dataset version to train on, checked to exist before training starts. */
export interface DatasetSource {
  /** Where svc-data answers. */
  address: string;
  datasetId: string;
  /** The version number (never 0: "latest" is resolved when checked). */
  version: number;
  name: string;
  documents: number;
  /** Size of the version's stored documents, to size pages. */
  bytes: number;
}

/** Documents per ListDocuments page: about 4 MiB of text, between 1 and svc-data's limit of 1,000. */
const PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGE = 1000;

function unreachable(address: string, err: LabError): LabError {
  return new LabError(
    'UNAVAILABLE',
    `datasetId: svc-data did not answer at ${address} (${err.message}); start it, or train on text or a path`,
    'datasetId',
  );
}

/** Looks the version up in svc-data; NOT_FOUND naming datasetId or datasetVersion when it does not exist. */
export async function resolveDatasetVersion(
  address: string,
  datasetId: string,
  version: number,
): Promise<DatasetSource> {
  const client = createClient(DataServiceClient, address, { deadlineMs: 10_000 });
  try {
    const dataset = await callUnary(client.getDataset.bind(client), { id: datasetId }).catch((err) => {
      const e = fromServiceError(err);
      if (e.code === 'NOT_FOUND')
        throw new LabError('NOT_FOUND', `datasetId: svc-data has no dataset "${datasetId}"`, 'datasetId');
      throw e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED' ? unreachable(address, e) : e;
    });
    const v = version
      ? dataset.versions.find((x) => x.version === version)
      : dataset.versions[dataset.versions.length - 1];
    if (!v) {
      const have = dataset.versions.map((x) => x.version).join(', ');
      throw new LabError(
        'NOT_FOUND',
        `datasetVersion: dataset "${datasetId}" has no version ${version} (versions: ${have || 'none'})`,
        'datasetVersion',
      );
    }
    return {
      address,
      datasetId,
      version: v.version,
      name: dataset.name,
      documents: Number(v.documents),
      bytes: Number(v.bytes),
    };
  } finally {
    client.close();
  }
}

/**
 * The version's documents, in order, each followed by a newline so that no pre-token spans two documents.
 * `onRead` hears how many documents have arrived of the total.
 */
export async function* datasetTexts(
  source: DatasetSource,
  onRead: (done: number, total: number) => void,
): AsyncGenerator<string> {
  const mean = source.documents ? source.bytes / source.documents : 0;
  const limit = mean > 0 ? Math.max(1, Math.min(MAX_PAGE, Math.floor(PAGE_BYTES / mean))) : 100;
  const client = createClient(DataServiceClient, source.address, { deadlineMs: 60_000 });
  try {
    let offset = 0;
    let total = source.documents;
    onRead(0, total);
    while (offset < total) {
      const page = await callUnary(client.listDocuments.bind(client), {
        datasetId: source.datasetId,
        version: source.version,
        page: { offset, limit },
        split: '',
      }).catch((err) => {
        const e = fromServiceError(err);
        throw e.code === 'UNAVAILABLE' ? unreachable(source.address, e) : e;
      });
      total = Number(page.total);
      if (!page.documents.length) break;
      for (const doc of page.documents) yield `${doc.text}\n`;
      offset += page.documents.length;
      onRead(offset, total);
    }
  } finally {
    client.close();
  }
}
