import { isMain, runService } from '@lab/common';
import { buildTokenizeService } from './service.ts';

export function start(): Promise<void> {
  return runService('tokenize', buildTokenizeService);
}

if (isMain(import.meta.url)) await start();
