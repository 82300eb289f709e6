// Shared with svc-eval, which scores with the engine directly: one way to load a model and render a chat.
export { DEFAULT_CHAT_TEMPLATE, type Message, renderChat } from './chat/template.ts';
export { logSoftmax, logSumExp } from './generate/logprobs.ts';
export type { ModelEntry } from './models/catalog.ts';
export { type LoadedModel, ModelPool } from './models/pool.ts';
export { folderStopIds } from './models/stops.ts';
export { buildInferService } from './service.ts';
