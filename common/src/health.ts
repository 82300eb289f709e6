// gRPC health checking (grpc.health.v1.Health: Check, Watch, List), served and called without protobufjs.
// Its messages are a string and an enum, encoded here with @bufbuild/protobuf's wire format (which the
// generated lab code loads anyway). grpc-health-check loads proto-loader and protobufjs and parses its .proto
// at import: ~10 MiB and ~0.1 s of CPU in every process at start, for two one-field messages.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  status as grpcStatus,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type MethodDefinition,
  type Server,
  type ServiceDefinition,
} from '@grpc/grpc-js';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const STATUSES: ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatus;
}
export interface HealthListResponse {
  statuses: Record<string, HealthCheckResponse>;
}

function encodeRequest(m: HealthCheckRequest): Buffer {
  const w = new BinaryWriter();
  if (m.service) w.tag(1, WireType.LengthDelimited).string(m.service);
  return Buffer.from(w.finish());
}

function decodeRequest(b: Uint8Array): HealthCheckRequest {
  const r = new BinaryReader(b);
  let service = '';
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === 1 && type === WireType.LengthDelimited) service = r.string();
    else r.skip(type, no);
  }
  return { service };
}

function writeResponse(w: BinaryWriter, m: HealthCheckResponse): BinaryWriter {
  const code = STATUSES.indexOf(m.status);
  if (code > 0) w.tag(1, WireType.Varint).int32(code);
  return w;
}

function encodeResponse(m: HealthCheckResponse): Buffer {
  return Buffer.from(writeResponse(new BinaryWriter(), m).finish());
}

function decodeResponse(b: Uint8Array): HealthCheckResponse {
  const r = new BinaryReader(b);
  let code = 0;
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === 1 && type === WireType.Varint) code = r.int32();
    else r.skip(type, no);
  }
  return { status: STATUSES[code] ?? 'UNKNOWN' };
}

/** HealthListResponse: `map<string, HealthCheckResponse> statuses = 1`, i.e. repeated {key = 1, value = 2}. */
function encodeList(m: HealthListResponse): Buffer {
  const w = new BinaryWriter();
  for (const [key, value] of Object.entries(m.statuses)) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    writeResponse(w.tag(2, WireType.LengthDelimited).fork(), value).join();
    w.join();
  }
  return Buffer.from(w.finish());
}

function decodeList(b: Uint8Array): HealthListResponse {
  const r = new BinaryReader(b);
  const statuses: Record<string, HealthCheckResponse> = {};
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no !== 1 || type !== WireType.LengthDelimited) {
      r.skip(type, no);
      continue;
    }
    const entry = new BinaryReader(r.bytes());
    let key = '';
    let value: HealthCheckResponse = { status: 'UNKNOWN' };
    while (entry.pos < entry.len) {
      const [eno, etype] = entry.tag();
      if (eno === 1 && etype === WireType.LengthDelimited) key = entry.string();
      else if (eno === 2 && etype === WireType.LengthDelimited) value = decodeResponse(entry.bytes());
      else entry.skip(etype, eno);
    }
    statuses[key] = value;
  }
  return { statuses };
}

const method = <Req, Res>(
  name: string,
  responseStream: boolean,
  req: [(m: Req) => Buffer, (b: Buffer) => Req],
  res: [(m: Res) => Buffer, (b: Buffer) => Res],
): MethodDefinition<Req, Res> => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: req[0],
  requestDeserialize: req[1],
  responseSerialize: res[0],
  responseDeserialize: res[1],
  originalName: name[0]!.toLowerCase() + name.slice(1),
});

/** The service definition, keyed like proto-loader's with keepCase (so clients have `check` and `Check`). */
export const healthService = {
  Check: method<HealthCheckRequest, HealthCheckResponse>(
    'Check',
    false,
    [encodeRequest, decodeRequest],
    [encodeResponse, decodeResponse],
  ),
  Watch: method<HealthCheckRequest, HealthCheckResponse>(
    'Watch',
    true,
    [encodeRequest, decodeRequest],
    [encodeResponse, decodeResponse],
  ),
  List: method<Record<string, never>, HealthListResponse>(
    'List',
    false,
    [() => Buffer.alloc(0), () => ({})],
    [encodeList, decodeList],
  ),
} satisfies ServiceDefinition;

/** Where health.proto lies (for reflection), found without loading grpc-health-check. */
export function healthProtoPath(): string {
  const main = createRequire(import.meta.url).resolve('grpc-health-check');
  return join(dirname(main), '../../proto/health/v1/health.proto');
}

const LIST_LIMIT = 100;

/** The server side, with grpc-health-check's behaviour: unknown names are NOT_FOUND on Check, SERVICE_UNKNOWN on Watch. */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();

  constructor(initial: Record<string, ServingStatus> = {}) {
    for (const [name, s] of Object.entries(initial)) this.statuses.set(name, s);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  addToServer(server: Pick<Server, 'addService'>): void {
    const check: handleUnaryCall<HealthCheckRequest, HealthCheckResponse> = (call, callback) => {
      const s = this.statuses.get(call.request.service);
      if (s) callback(null, { status: s });
      else
        callback({
          code: grpcStatus.NOT_FOUND,
          details: `Health status unknown for service ${call.request.service}`,
        });
    };
    const watch: handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => {
      const name = call.request.service;
      const watcher = (status: ServingStatus) => call.write({ status });
      const set = this.watchers.get(name) ?? new Set();
      this.watchers.set(name, set);
      set.add(watcher);
      call.on('cancelled', () => set.delete(watcher));
      call.write({ status: this.statuses.get(name) ?? 'SERVICE_UNKNOWN' });
    };
    const list: handleUnaryCall<Record<string, never>, HealthListResponse> = (_call, callback) => {
      if (this.statuses.size > LIST_LIMIT)
        return callback({ code: grpcStatus.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [name, status] of this.statuses) statuses[name] = { status };
      callback(null, { statuses });
    };
    server.addService(healthService, { Check: check, Watch: watch, List: list });
  }
}
