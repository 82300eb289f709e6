// What `npm run mutate` mutates, and the tests that judge each target (fast unit tests of that package;
// the integration suites that also reach this code would make a run take days).
export const targets = {
  /** The tokenizer's core: BPE encoding and training, byte mapping, vocabularies, pre-tokenising patterns. */
  tokenizer: {
    mutate: [
      'tokenizer/src/{bpe,bytes,heap,merges-encoder,rank-encoder,rank-tokenizer,tokenizer,train,vocab,stream-decoder,char,patterns}.ts',
    ],
    tests: ['tokenizer/test/**/*.test.ts'],
  },
  /** The engine's graph builder, reverse-mode autodiff and the ops with their VJP rules. */
  engine: {
    mutate: ['engine/src/graph/{graph,autodiff,ops}.ts'],
    tests: ['engine/test/{graph,autodiff,vjp,vjp-exact,graph-builder,ops-forward,vjp-paths}.test.ts'],
  },
  /** svc-train's job logic: checkpoints (manifest, verification, retention), LR schedule, request validation. */
  train: {
    mutate: ['svc-train/src/jobs/{checkpoints,schedule,validate,field-error}.ts'],
    tests: ['svc-train/test/{retention,checkpoint-corrupt,checkpoint-files,job-request}.test.ts'],
  },
};
