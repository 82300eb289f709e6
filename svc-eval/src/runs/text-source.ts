// The text a perplexity run scores: given inline, a UTF-8 file on this machine, or a svc-data dataset
// version (one split or all of it), read over gRPC page by page: svc-eval never reads svc-data's storage.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { confinePath, fromServiceError, LabError, readVersionDocuments } from '@lab/common';

export interface TextSource {
  text?: string;
  textPath?: string;
  datasetId?: string;
  datasetVersion?: number;
  split?: string;
}

export async function readText(
  src: TextSource,
  dataAddress: string,
  dataRoots: readonly string[] | undefined,
  signal?: AbortSignal,
): Promise<string> {
  if (src.text) return src.text;
  if (src.textPath) {
    confinePath(src.textPath, 'textPath', dataRoots);
    if (!existsSync(src.textPath) || !statSync(src.textPath).isFile())
      throw new LabError('INVALID_ARGUMENT', `textPath: ${src.textPath} is not a file`, 'textPath');
    return readFileSync(src.textPath, 'utf8');
  }
  if (!src.datasetId)
    throw new LabError('INVALID_ARGUMENT', 'text: give one of text, textPath or datasetId', 'text');
  let docs: string[];
  try {
    const read = await readVersionDocuments(dataAddress, {
      datasetId: src.datasetId,
      version: src.datasetVersion ?? 0,
      split: src.split ?? '',
      signal,
    });
    docs = read.documents.map((d) => d.text);
  } catch (err) {
    const e = fromServiceError(err);
    throw new LabError(e.code, `datasetId: ${e.message}`, 'datasetId');
  }
  if (!docs.length)
    throw new LabError(
      'INVALID_ARGUMENT',
      `datasetId: ${src.datasetId} has no documents${src.split ? ` in split ${src.split}` : ''}`,
      'datasetId',
    );
  // Documents are separate texts: a blank line between them keeps one from reading as the next one's start.
  return docs.join('\n\n');
}
