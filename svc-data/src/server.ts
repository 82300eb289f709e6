import { isMain, runService } from '@lab/common';
import { buildDataService } from './service.ts';

export function start(): Promise<void> {
  return runService('data', buildDataService);
}

if (isMain(import.meta.url)) await start();
