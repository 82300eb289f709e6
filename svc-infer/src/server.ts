import { isMain, runService } from '@lab/common';
import { buildInferService } from './service.ts';

export function start(): Promise<void> {
  return runService('infer', buildInferService);
}

if (isMain(import.meta.url)) await start();
