// Text from svc-infer: each sample's final text of a Generate call (plain prompt or chat messages), over
// gRPC, so HumanEval completions and judged answers are generated exactly as the Playground generates.
import { createClient, fromServiceError, LabError, remoteImpl } from '@lab/common';
import { type GenerateRequest, InferServiceClient, InferServiceService } from '@lab/proto/infer';

export async function generateTexts(
  inferAddress: string,
  req: GenerateRequest,
  signal?: AbortSignal,
): Promise<string[]> {
  const client = createClient(InferServiceClient, inferAddress);
  const texts: string[] = [];
  try {
    const call = remoteImpl(InferServiceService, client).generate!(req, undefined as never);
    const onAbort = () => (call as { cancel?: () => void }).cancel?.();
    signal?.addEventListener('abort', onAbort);
    try {
      for await (const e of call) {
        if (e.event?.$case === 'done') texts[e.event.value.sample] = e.event.value.text;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  } catch (err) {
    if (signal?.aborted) throw new LabError('CANCELLED', 'cancelled', 'id');
    throw fromServiceError(err);
  } finally {
    client.close();
  }
  if (signal?.aborted) throw new LabError('CANCELLED', 'cancelled', 'id');
  return texts.map((t) => t ?? '');
}
