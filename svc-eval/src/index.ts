export { buildEvalService } from './service.ts';
