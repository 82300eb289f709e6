import { isMain, runService } from '@lab/common';
import { buildTrainService } from './service.ts';

export function start(): Promise<void> {
  return runService('train', buildTrainService);
}

if (isMain(import.meta.url)) await start();
