import { isMain, runService } from '@lab/common';
import { buildEvalService } from './service.ts';

export function start(): Promise<void> {
  return runService('eval', buildEvalService);
}

if (isMain(import.meta.url)) await start();
