import { DataServiceClient, type Document } from '@lab/proto/data';
import { fromServiceError, LabError } from './errors.ts';
import { callUnary, createClient } from './grpc.ts';

export interface VersionDocumentsRequest {
  datasetId: string;
  /** 0: the latest. */
  version: number;
  /** Only this split ('' or absent: all documents). */
  split?: string;
  /** Stop after this many documents, 1 or more (absent: all of them). */
  limit?: number;
  signal?: AbortSignal;
}

/** svc-data answers at most this many documents a page. */
const PAGE = 1000;

/**
 * The documents of a svc-data dataset version, in order, read page by page over gRPC (no service reads
 * another's storage), with the number the version (or split) holds. Rejects with the service's error as a
 * LabError (NOT_FOUND for an unknown dataset or version).
 */
export async function readVersionDocuments(
  dataAddress: string,
  req: VersionDocumentsRequest,
): Promise<{ documents: Document[]; total: number }> {
  const client = createClient(DataServiceClient, dataAddress);
  const documents: Document[] = [];
  const want = req.limit ?? Number.POSITIVE_INFINITY;
  try {
    for (;;) {
      if (req.signal?.aborted) throw new LabError('CANCELLED', 'cancelled');
      const page = await callUnary(client.listDocuments.bind(client), {
        datasetId: req.datasetId,
        version: req.version,
        split: req.split ?? '',
        page: { offset: documents.length, limit: Math.min(PAGE, want - documents.length) },
      });
      documents.push(...page.documents);
      const total = Number(page.total);
      if (!page.documents.length || documents.length >= Math.min(total, want)) return { documents, total };
    }
  } catch (err) {
    throw fromServiceError(err);
  } finally {
    client.close();
  }
}
