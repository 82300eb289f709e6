export { buildDataService, createDataImpl } from './service.ts';
export {
  type Batch,
  type Dtype,
  openShards,
  type ShardIndexJson,
  type ShardSet,
  ShardSplit,
} from './shards.ts';
