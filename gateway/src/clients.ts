import { createClient, type LabConfig, remoteImpl, type ServiceImpl, type ServiceName } from '@lab/common';
import { DataServiceClient, DataServiceService } from '@lab/proto/data';
import { EvalServiceClient, EvalServiceService } from '@lab/proto/eval';
import { InferServiceClient, InferServiceService } from '@lab/proto/infer';
import { TokenizeServiceClient, TokenizeServiceService } from '@lab/proto/tokenize';
import { TrainServiceClient, TrainServiceService } from '@lab/proto/train';

/** The gateway's view of the five services: promise/async-iterable methods over gRPC. */
export interface ServiceClients {
  tokenize: ServiceImpl<typeof TokenizeServiceService>;
  data: ServiceImpl<typeof DataServiceService>;
  train: ServiceImpl<typeof TrainServiceService>;
  infer: ServiceImpl<typeof InferServiceService>;
  eval: ServiceImpl<typeof EvalServiceService>;
  addresses: Record<ServiceName, string>;
  close(): void;
}

export function connectServices(config: LabConfig): ServiceClients {
  const a = config.addresses;
  const raw = {
    tokenize: createClient(TokenizeServiceClient, a.tokenize),
    data: createClient(DataServiceClient, a.data),
    train: createClient(TrainServiceClient, a.train),
    infer: createClient(InferServiceClient, a.infer),
    eval: createClient(EvalServiceClient, a.eval),
  };
  return {
    tokenize: remoteImpl(TokenizeServiceService, raw.tokenize),
    data: remoteImpl(DataServiceService, raw.data),
    train: remoteImpl(TrainServiceService, raw.train),
    infer: remoteImpl(InferServiceService, raw.infer),
    eval: remoteImpl(EvalServiceService, raw.eval),
    addresses: a,
    close: () => {
      for (const c of Object.values(raw)) c.close();
    },
  };
}
