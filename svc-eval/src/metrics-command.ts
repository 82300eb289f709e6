// `lab-eval metrics`: text metrics of a hypothesis file against one or more reference files, computed in this
// process (no service needed). One line per segment; each --ref file is one reference set, as sacrebleu's CLI.
import { readFileSync } from 'node:fs';
import { type CliCommand, type CliValues, LabError, requireString } from '@lab/common';
import { type TextMetrics, textMetrics, wordnetDir } from './metrics/index.ts';

/** Lines of a text file; a final newline does not start another segment, and CRLF files read the same. */
function readLines(path: string, flag: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new LabError('INVALID_ARGUMENT', `--${flag} ${path}: ${reason}`, flag);
  }
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

const ROWS: [key: keyof TextMetrics, label: string, scale: string][] = [
  ['bleu', 'BLEU', '0-100  sacrebleu, 13a tokens'],
  ['chrf', 'chrF', '0-100  sacrebleu, char order 6, beta 2'],
  ['ter', 'TER', '0-100  sacrebleu, lower is better'],
  ['rouge1', 'ROUGE-1', '0-1    rouge-score F, stemmed'],
  ['rouge2', 'ROUGE-2', '0-1    rouge-score F, stemmed'],
  ['rougeL', 'ROUGE-L', '0-1    rouge-score F, stemmed'],
  ['rougeLsum', 'ROUGE-Lsum', '0-1    rouge-score F, stemmed'],
  ['meteor', 'METEOR', '0-1    nltk'],
  ['exact_match', 'exact match', '0-100  SQuAD v1.1'],
  ['f1', 'F1', '0-100  SQuAD v1.1'],
];

async function run(values: CliValues): Promise<void> {
  const hypPath = requireString(values, 'hyp');
  const refPaths = (values.ref as string[] | undefined) ?? [];
  if (refPaths.length === 0)
    throw new LabError('INVALID_ARGUMENT', '--ref is required (one file per reference set)', 'ref');
  const hypotheses = readLines(hypPath, 'hyp');
  if (hypotheses.length === 0)
    throw new LabError('INVALID_ARGUMENT', `--hyp ${hypPath}: the file has no lines`, 'hyp');
  const references = refPaths.map((p) => {
    const lines = readLines(p, 'ref');
    if (lines.length !== hypotheses.length) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `--ref ${p}: ${lines.length} lines, --hyp has ${hypotheses.length}`,
        'ref',
      );
    }
    return lines;
  });
  const report = textMetrics(hypotheses, references);
  if (!report.meteorStages.includes('wordnet')) {
    process.stderr.write(
      `note: no WordNet at ${wordnetDir()} (apt-get install wordnet-base, or set LAB_WORDNET_DIR): METEOR ran without its synonym stage\n`,
    );
  }
  if (values.json) {
    const m = report.metrics;
    const out: TextMetrics = {
      bleu: m.bleu,
      chrf: m.chrf,
      ter: m.ter,
      rouge1: m.rouge1,
      rouge2: m.rouge2,
      rougeL: m.rougeL,
      rougeLsum: m.rougeLsum,
      meteor: m.meteor,
      exact_match: m.exact_match,
      f1: m.f1,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const lines = ROWS.map(([k, label, scale]) => {
    const v = report.metrics[k];
    const shown = scale.startsWith('0-1 ') ? v.toFixed(4) : v.toFixed(2);
    return `${label.padEnd(12)} ${shown.padStart(8)}  ${scale}`;
  });
  process.stdout.write(
    `${lines.join('\n')}\n\n${report.segments} segments, ${report.referenceSets} reference set(s); METEOR stages: ${report.meteorStages.join(', ')}\n`,
  );
}

/** The `metrics` command of lab-eval (wired into its CLI by the caller). */
export const metricsCommand: CliCommand = {
  summary: 'BLEU, chrF, TER, ROUGE, METEOR, exact match and F1 of a hypothesis file against reference files',
  usage: 'metrics --hyp FILE --ref FILE [--ref FILE ...] [--json]',
  help: {
    hyp: 'hypotheses, one segment per line',
    ref: 'references, one segment per line; repeat for more reference sets',
    json: 'print one JSON object of the scores',
  },
  options: {
    hyp: { type: 'string' },
    ref: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  run,
};
