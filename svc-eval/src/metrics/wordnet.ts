// WordNet 3.0 synonyms as nltk's `wordnet.synsets(word)` finds them: for each part of speech (noun, verb,
// adjective, adverb) the word is reduced to base forms with WordNet's morphy (exception lists, then suffix
// rules, repeated until a form is in the index), and every synset of every base form is collected. METEOR
// needs only the lemma names of those synsets.
//
// The dictionary files come from Debian's `wordnet-base` (/usr/share/wordnet) or LAB_WORDNET_DIR. They are
// read on first use: the index and exception lists whole (~7 MB of text), the data files as raw bytes from
// which synset lines are read at the byte offsets the index gives.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Pos = 'n' | 'v' | 'a' | 'r';
const POS_ORDER: readonly Pos[] = ['n', 'v', 'a', 'r'];
const FILE: Record<Pos, string> = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' };

/** WordNet's detachment rules (morphy(7WN)) per part of speech: [suffix, replacement]. */
const SUFFIX_RULES: Record<Pos, readonly [string, string][]> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  r: [],
};

export interface WordNet {
  /** Lemma names of all synsets of `word` over all parts of speech (nltk `synsets(word)` -> `lemma.name()`). */
  lemmaNames(word: string): Set<string>;
}

class WordNetFiles implements WordNet {
  /** Per part of speech: lemma -> the rest of its index line, parsed only when the lemma is looked up. */
  private readonly index: Record<Pos, Map<string, string>> = {
    n: new Map(),
    v: new Map(),
    a: new Map(),
    r: new Map(),
  };
  private readonly exceptions: Record<Pos, Map<string, string[]>> = {
    n: new Map(),
    v: new Map(),
    a: new Map(),
    r: new Map(),
  };
  private readonly data = new Map<Pos, Buffer>();
  private readonly names = new Map<string, Set<string>>();

  constructor(private readonly dir: string) {
    for (const pos of POS_ORDER) {
      const index = this.index[pos];
      for (const line of readFileSync(join(dir, `index.${FILE[pos]}`), 'latin1').split('\n')) {
        // Lines starting with a space are the license header.
        if (line === '' || line.startsWith(' ')) continue;
        const space = line.indexOf(' ');
        index.set(line.slice(0, space), line.slice(space + 1));
      }
      for (const line of readFileSync(join(dir, `${FILE[pos]}.exc`), 'latin1').split('\n')) {
        const f = line.split(/\s+/).filter(Boolean);
        if (f.length) this.exceptions[pos].set(f[0]!, f.slice(1));
      }
    }
  }

  private known(form: string, pos: Pos): boolean {
    return this.index[pos].has(form);
  }

  /** Synset offsets of a lemma: `pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offset...`. */
  private offsets(form: string, pos: Pos): number[] {
    const f = this.index[pos].get(form)!.trim().split(/\s+/);
    const synsets = Number(f[1]);
    const first = 3 + Number(f[2]) + 2;
    return f.slice(first, first + synsets).map(Number);
  }

  /** nltk `_morphy`: base forms of `form` present in the index for `pos`, in nltk's order. */
  private morphy(form: string, pos: Pos): string[] {
    const inIndex = (forms: readonly string[]) => [...new Set(forms)].filter((f) => this.known(f, pos));
    const exc = this.exceptions[pos].get(form);
    if (exc) return inIndex([form, ...exc]);
    const apply = (forms: readonly string[]) => {
      const out: string[] = [];
      for (const f of forms)
        for (const [old, rep] of SUFFIX_RULES[pos])
          if (f.endsWith(old)) out.push(f.slice(0, -old.length) + rep);
      // Later duplicates only repeat earlier outputs, so dropping them keeps the order and bounds the growth.
      return [...new Set(out)];
    };
    let forms = apply([form]);
    let found = inIndex([form, ...forms]);
    while (found.length === 0 && forms.length > 0) {
      forms = apply(forms);
      found = inIndex(forms);
    }
    return found;
  }

  private synsetLemmas(pos: Pos, offset: number): string[] {
    let buf = this.data.get(pos);
    if (!buf) {
      buf = readFileSync(join(this.dir, `data.${FILE[pos]}`));
      this.data.set(pos, buf);
    }
    const end = buf.indexOf(10, offset);
    const line = buf.toString('latin1', offset, end < 0 ? buf.length : end);
    const f = line.split('|')[0]!.trim().split(/\s+/);
    // offset lex_filenum ss_type w_cnt(hex) then w_cnt pairs of (word, lex_id)
    const count = Number.parseInt(f[3]!, 16);
    const out: string[] = [];
    for (let k = 0; k < count; k++) {
      // Adjectives may carry a syntactic marker such as "(p)" or "(ip)"; it is not part of the name.
      out.push(/^(.*?)(\(.*\))?$/.exec(f[4 + 2 * k]!)![1]!);
    }
    return out;
  }

  lemmaNames(word: string): Set<string> {
    const lemma = word.toLowerCase();
    let names = this.names.get(lemma);
    if (names) return names;
    names = new Set();
    for (const pos of POS_ORDER) {
      for (const form of this.morphy(lemma, pos)) {
        for (const offset of this.offsets(form, pos))
          for (const n of this.synsetLemmas(pos, offset)) names.add(n);
      }
    }
    this.names.set(lemma, names);
    return names;
  }
}

let loaded: { dir: string; wordnet: WordNet | null } | undefined;

/** The WordNet dictionary directory in use: LAB_WORDNET_DIR, else Debian's /usr/share/wordnet. */
export function wordnetDir(): string {
  return process.env.LAB_WORDNET_DIR || '/usr/share/wordnet';
}

/** WordNet from `wordnetDir()`, loaded once; null when its files are not there (METEOR then skips synonyms). */
export function loadWordNet(dir = wordnetDir()): WordNet | null {
  if (loaded?.dir === dir) return loaded.wordnet;
  const present = POS_ORDER.every((p) =>
    [`index.${FILE[p]}`, `data.${FILE[p]}`, `${FILE[p]}.exc`].every((f) => existsSync(join(dir, f))),
  );
  loaded = { dir, wordnet: present ? new WordNetFiles(dir) : null };
  return loaded.wordnet;
}
