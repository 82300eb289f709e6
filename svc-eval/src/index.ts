export { buildEvalService, createEvalImpl } from './service.ts';
