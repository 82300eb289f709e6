export {
  BUILTIN_NAMES,
  type BuiltinName,
  getBuiltin as getTokenizer,
  isBuiltinName,
  loadedBuiltinNames,
} from './builtins.ts';
export { byteLevelToByteString, byteStringToUtf8 } from './bytes.ts';
export { CharTokenizer } from './char.ts';
export { TokenizerError } from './errors.ts';
export {
  exportHfTokenizer,
  type HfAddedToken,
  type HfBpeModel,
  type HfComponent,
  HfTokenizer,
  type HfTokenizerJson,
  importHfTokenizer,
} from './hf.ts';
export {
  type ComparisonRow,
  type CostEstimate,
  type CoverageReport,
  compareTokenizers,
  estimateCost,
  type InspectedToken,
  inspectTokens,
  vocabularyCoverage,
} from './inspect.ts';
export {
  type LoadOptions,
  loadTokenizer,
  parseTokenizerJson,
  saveTokenizer,
  serializeTokenizer,
} from './io.ts';
export {
  BUILTIN_PATTERNS,
  CL100K_PATTERN,
  compilePattern,
  GPT2_PATTERN,
  O200K_PATTERN,
  translatePattern,
} from './patterns.ts';
export {
  formatTiktokenRanks,
  parseTiktokenRanks,
  RankTokenizer,
  type RankTokenizerInit,
} from './rank-tokenizer.ts';
export { StreamingDecoder } from './stream-decoder.ts';
export {
  type EncodeOptions,
  type MetaspaceOptions,
  type SpecialSelection,
  Tokenizer,
  type TokenizerKind,
  type TokenSpan,
} from './tokenizer.ts';
export {
  describeTrainReport,
  type StopReason,
  type TrainingInput,
  type TrainOptions,
  type TrainReport,
  trainBpe,
  trainBpeWithReport,
} from './train.ts';
export { byteStringOrHole, type VocabRow, vocabPage } from './vocab.ts';
