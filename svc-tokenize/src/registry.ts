import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, type Store } from '@lab/common';
import {
  BUILTIN_NAMES,
  getTokenizer,
  HfTokenizer,
  isBuiltinName,
  loadTokenizer,
  saveTokenizer,
  type Tokenizer,
} from '@lab/tokenizer';

/** What the registry keeps about a trained tokenizer (its vocabulary lives in tokenizer.json beside). */
export interface TokenizerRecord {
  name: string;
  kind: string;
  vocabSize: number;
  specialTokens: Record<string, number>;
  createdAt: string;
  /** How it was made: vocab size asked for, pattern, input description. */
  params: Record<string, unknown>;
}

export interface TokenizerSummary {
  name: string;
  kind: string;
  vocabSize: number;
  builtin: boolean;
  specialTokens: Record<string, number>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const key = (name: string) => `tokenizer:${name}`;

/** Built-in tokenizers plus the ones trained here, which live under `<home>/tokenize/tokenizers/<name>/`. */
export class TokenizerRegistry {
  private readonly cache = new Map<string, Tokenizer>();

  constructor(
    private readonly store: Store,
    private readonly dir: string,
  ) {}

  static kindOf(tok: Tokenizer): string {
    if (tok.kind === 'char') return 'char';
    return tok instanceof HfTokenizer ? 'hf' : 'bpe';
  }

  /** Validates a name for a new tokenizer: well-formed and not taken. */
  assertNewName(name: string): void {
    if (!NAME_RE.test(name)) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `name: must be 1-64 letters, digits, '.', '_' or '-' (got "${name}")`,
        'name',
      );
    }
    if (isBuiltinName(name) || this.store.get(key(name))) {
      throw new LabError('ALREADY_EXISTS', `name: a tokenizer called "${name}" already exists`, 'name');
    }
  }

  list(): TokenizerSummary[] {
    const builtins = BUILTIN_NAMES.map((name) => summary(getTokenizer(name), true));
    const trained: TokenizerSummary[] = [];
    for (const { value } of this.store.getRange({ start: 'tokenizer:', end: 'tokenizer;' })) {
      const r = value as TokenizerRecord;
      trained.push({
        name: r.name,
        kind: r.kind,
        vocabSize: r.vocabSize,
        builtin: false,
        specialTokens: r.specialTokens,
      });
    }
    return [...builtins, ...trained.sort((a, b) => a.name.localeCompare(b.name))];
  }

  /** A tokenizer by registry name; NOT_FOUND naming the field `field` otherwise. */
  get(name: string, field = 'tokenizer'): Tokenizer {
    if (isBuiltinName(name)) return getTokenizer(name);
    // A path (tokenizer.json, tiktoken ranks, or a folder holding tokenizer.json) is used as is.
    if (/[/\\]|\.(json|tiktoken)$/.test(name)) {
      if (!existsSync(name)) throw new LabError('NOT_FOUND', `${field}: no tokenizer file at ${name}`, field);
      return loadTokenizer(name);
    }
    const cached = this.cache.get(name);
    if (cached) return cached;
    const record = NAME_RE.test(name)
      ? (this.store.get(key(name)) as TokenizerRecord | undefined)
      : undefined;
    if (!record) {
      const known = this.list().map((t) => t.name);
      throw new LabError(
        'NOT_FOUND',
        `${field}: unknown tokenizer "${name}" (known: ${known.join(', ')})`,
        field,
      );
    }
    const tok = loadTokenizer(join(this.dir, name), { name });
    this.cache.set(name, tok);
    return tok;
  }

  /**
   * Registers a tokenizer already written to `<dir>/<name>/tokenizer.json` (by the training worker).
   * `kind` is how it was made: a trained BPE reloads as a tokenizer.json but is still ours ('bpe').
   */
  async register(name: string, params: Record<string, unknown>, kind = 'bpe'): Promise<TokenizerSummary> {
    const tok = loadTokenizer(join(this.dir, name), { name });
    const record: TokenizerRecord = {
      name,
      kind,
      vocabSize: tok.vocabSize,
      specialTokens: Object.fromEntries(tok.specialTokens),
      createdAt: new Date().toISOString(),
      params,
    };
    await this.store.put(key(name), record);
    this.cache.set(name, tok);
    return { ...summary(tok, false), kind };
  }

  /** Saves a tokenizer made in this process (import, char) under a new name. */
  async add(tok: Tokenizer, name: string, params: Record<string, unknown>): Promise<TokenizerSummary> {
    this.assertNewName(name);
    saveTokenizer(tok, join(this.dir, name));
    return this.register(name, params, TokenizerRegistry.kindOf(tok));
  }

  /** Folder a training run writes into; cleared first so a crashed earlier run leaves nothing behind. */
  prepareDir(name: string): string {
    const d = join(this.dir, name);
    if (existsSync(d)) rmSync(d, { recursive: true, force: true });
    return d;
  }
}

export function summary(tok: Tokenizer, builtin: boolean): TokenizerSummary {
  return {
    name: tok.name,
    kind: TokenizerRegistry.kindOf(tok),
    vocabSize: tok.vocabSize,
    builtin,
    specialTokens: Object.fromEntries(tok.specialTokens),
  };
}
