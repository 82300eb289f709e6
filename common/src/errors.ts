import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';

/** Error codes shared by gRPC and HTTP; names follow gRPC status codes. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'UNIMPLEMENTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'RESOURCE_EXHAUSTED'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'INTERNAL';

const grpcCodes: Record<ErrorCode, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  UNIMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  CANCELLED: GrpcStatus.CANCELLED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  INTERNAL: GrpcStatus.INTERNAL,
};

const httpStatuses: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  RESOURCE_EXHAUSTED: 413,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  INTERNAL: 500,
};

/** An error meant for the caller: its message is safe to show, `field` names the bad input when there is one. */
export class LabError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'LabError';
  }

  get httpStatus(): number {
    return httpStatuses[this.code];
  }

  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field
      ? { code: this.code, message: this.message, field: this.field }
      : { code: this.code, message: this.message };
  }
}

export const invalidArgument = (field: string, message: string): LabError =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

export const notFound = (field: string, message: string): LabError =>
  new LabError('NOT_FOUND', message, field);

// Metadata key carrying LabError.field across gRPC, so the gateway can name the field in its HTTP answer.
const FIELD_KEY = 'lab-error-field';

/** Turns any thrown value into a gRPC ServiceError; unknown errors become INTERNAL without leaking stacks. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const lab = err instanceof LabError ? err : fromDomainError(err);
  const metadata = new Metadata();
  if (lab.field) metadata.set(FIELD_KEY, lab.field);
  return { code: grpcCodes[lab.code], details: lab.message, message: lab.message, metadata };
}

/** Maps errors thrown by domain libraries that carry a `field` (tokenizer, engine) to INVALID_ARGUMENT. */
function fromDomainError(err: unknown): LabError {
  if (err instanceof Error) {
    const field = (err as { field?: unknown }).field;
    if (typeof field === 'string') return new LabError('INVALID_ARGUMENT', err.message, field);
    if (err instanceof RangeError || err instanceof TypeError)
      return new LabError('INVALID_ARGUMENT', err.message);
    return new LabError('INTERNAL', err.message);
  }
  return new LabError('INTERNAL', String(err));
}

const codeByGrpc = new Map<number, ErrorCode>(
  Object.entries(grpcCodes).map(([name, code]) => [code, name as ErrorCode]),
);

/** Turns a gRPC client error back into a LabError (the gateway answers HTTP with it). */
export function fromServiceError(err: unknown): LabError {
  if (err instanceof LabError) return err;
  const e = err as Partial<ServiceError>;
  if (typeof e?.code === 'number') {
    const code = codeByGrpc.get(e.code) ?? 'INTERNAL';
    const field = e.metadata?.get(FIELD_KEY)[0];
    return new LabError(code, e.details || e.message || code, typeof field === 'string' ? field : undefined);
  }
  return fromDomainError(err);
}
