export { buildInferService } from './service.ts';
