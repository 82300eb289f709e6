import { z } from '@hono/zod-openapi';
import { type ErrorCode, fromServiceError, LabError } from '@lab/common';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every error the gateway answers has this body. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'INVALID_ARGUMENT' }),
      message: z.string().openapi({ example: 'vocabSize: must be at least 257' }),
      field: z.string().optional().openapi({ example: 'vocabSize' }),
    }),
  })
  .openapi('Error');

export function errorResponse(c: Context, status: number, code: ErrorCode, message: string, field?: string) {
  return c.json(
    { error: field ? { code, message, field } : { code, message } },
    status as ContentfulStatusCode,
  );
}

/** Maps thrown errors (gRPC statuses, LabErrors, Hono's own) to the JSON error body. */
export function handleError(err: Error, c: Context) {
  if (err instanceof HTTPException) {
    // Hono's JSON validator throws this for a body that does not parse.
    const malformed = /malformed json/i.test(err.message);
    return errorResponse(
      c,
      err.status,
      err.status === 400 ? 'INVALID_ARGUMENT' : 'INTERNAL',
      malformed ? `request body is not valid JSON (${err.message})` : err.message,
      malformed ? 'body' : undefined,
    );
  }
  const lab = err instanceof LabError ? err : fromServiceError(err);
  if (lab.code === 'INTERNAL') console.error('[gateway] error:', err);
  return errorResponse(c, lab.httpStatus, lab.code, lab.message, lab.field);
}

/** zod-openapi hook: a request that fails its schema gets 400 naming the first bad field. */
export function validationHook(
  result:
    | { success: true }
    | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
  c: Context,
) {
  if (result.success) return;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'body';
  return errorResponse(c, 400, 'INVALID_ARGUMENT', `${field}: ${issue.message}`, field);
}
