export { buildTrainService } from './service.ts';
