export { buildDataService } from './service.ts';
