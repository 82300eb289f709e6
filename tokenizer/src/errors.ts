/**
 * The single error type of the tokenizer library. `field` names the offending input so that
 * services can map it to INVALID_ARGUMENT with a precise field path.
 */
export class TokenizerError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'TokenizerError';
    this.field = field;
  }
}
