import { TokenizeServiceClient } from '@lab/proto/tokenize';
import { fromServiceError } from './errors.ts';
import { callUnary, createClient } from './grpc.ts';

/**
 * The tokenizer.json of a tokenizer in svc-tokenize's registry, asked over gRPC (no service reads another's
 * storage). Rejects with the service's error as a LabError (NOT_FOUND for an unknown name).
 */
export async function fetchTokenizerJson(tokenizeAddress: string, name: string): Promise<string> {
  const client = createClient(TokenizeServiceClient, tokenizeAddress);
  try {
    return (await callUnary(client.exportTokenizer.bind(client), { tokenizer: name })).json;
  } catch (err) {
    throw fromServiceError(err);
  } finally {
    client.close();
  }
}
