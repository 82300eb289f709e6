export { buildTokenizeService } from './service.ts';
