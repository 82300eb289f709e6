import type { Component, JSX } from 'solid-js';
import ArchitecturePage from './Architecture.tsx';
import AttentionPage from './Attention.tsx';
import DataPage from './Data.tsx';
import EvalPage from './Eval.tsx';
import FinetunePage from './Finetune.tsx';
import PlaygroundPage from './Playground.tsx';
import ProbingPage from './Probing.tsx';
import StatusPage from './Status.tsx';
import TokenizerPage from './Tokenizer.tsx';
import TrainPage from './Train.tsx';

export interface PageDef {
  /** Route id: the page lives at `#/<id>`. */
  id: string;
  /** Name in the navigation. */
  title: string;
  /** Two or three sentences on the concept the page teaches. */
  intro: JSX.Element;
  /** The page body; absent for pages that are not built yet. */
  component?: Component;
  /** For pages not built yet: one line on what will be there. */
  planned?: string;
}

export const pages: PageDef[] = [
  {
    id: 'status',
    title: 'Status',
    intro: (
      <>
        The lab is a handful of small programs: five services (tokenize, data, train, infer, eval) that each
        do one job, a gateway that this page talks to, and an event bus that carries progress and metrics
        between them. This page shows whether each piece is up, live, and the last events that passed over the
        bus.
      </>
    ),
    component: StatusPage,
  },
  {
    id: 'tokenizer',
    title: 'Tokenizer',
    intro: (
      <>
        A language model never sees letters: a <strong>tokenizer</strong> first cuts text into pieces (tokens)
        from a fixed vocabulary and turns each into an integer id, and the model predicts the next id. How the
        text is cut decides how long sequences are, which words the model sees whole, and how well other
        languages and code fit in its context. Type below to watch it happen, compare tokenizers, and train
        your own.
      </>
    ),
    component: TokenizerPage,
  },
  {
    id: 'data',
    title: 'Data',
    intro: (
      <>
        A model learns only what is in its training data, so most of the work of making a good model is making
        good data: collecting text, cleaning it, removing duplicates and junk, and splitting it into training
        and validation sets. The cleaned text is then tokenized into shards the trainer can stream.
      </>
    ),
    component: DataPage,
  },
  {
    id: 'architecture',
    title: 'Architecture',
    intro: (
      <>
        A GPT is a stack of identical transformer blocks: each block lets every token look at earlier tokens
        (attention) and then transforms each token on its own (an MLP), adding its result to a running
        “residual stream”. The number of layers, heads and the width decide how many parameters the model has
        and how much memory and compute it needs.
      </>
    ),
    component: ArchitecturePage,
  },
  {
    id: 'train',
    title: 'Train',
    intro: (
      <>
        <strong>Pre-training</strong> starts from random weights and repeats one thing: take a batch of text,
        predict every next token, measure how wrong the predictions were (the loss), and nudge every weight a
        little in the direction that makes them less wrong (gradient descent). The loss curve is the main
        instrument: it should fall, and the validation loss, on text the model never trains on, tells you
        whether it learns the language or memorises the batches.
      </>
    ),
    component: TrainPage,
  },
  {
    id: 'finetune',
    title: 'Fine-tune',
    intro: (
      <>
        <strong>Fine-tuning</strong> starts from a model that already knows the language and teaches it a new
        behaviour, such as answering instructions (SFT: the loss counts only the answer tokens) or preferring
        one answer over another (DPO). With <strong>LoRA</strong> the base weights stay frozen and only two
        small matrices per chosen layer learn (rank r, scaled by alpha / r), so a laptop can do it and the
        result is a few kilobytes; chat with the result in the Playground to see what changed.
      </>
    ),
    component: FinetunePage,
  },
  {
    id: 'playground',
    title: 'Playground',
    intro: (
      <>
        A language model writes one token at a time: for the text so far it gives every token in its
        vocabulary a probability, the <strong>sampler</strong> reshapes that distribution (temperature, top-k,
        top-p, …) and draws one token, which is appended before the next step. Chat with a model here, and
        look inside each step: how likely every token was, what the alternatives were, and what each sampling
        knob did.
      </>
    ),
    component: PlaygroundPage,
  },
  {
    id: 'attention',
    title: 'Attention',
    intro: (
      <>
        In each attention head, every token computes how much to look at each earlier token; those weights
        form a matrix per head and layer. Plotting them as heatmaps shows what heads learn: some attend to the
        previous token, some to the start of the text, some copy earlier patterns (induction heads).
      </>
    ),
    component: AttentionPage,
  },
  {
    id: 'probing',
    title: 'Probing',
    intro: (
      <>
        The residual stream carries a vector for every token through the layers. Probing looks at those
        activations: what the model would predict if it stopped at a given layer (the “logit lens”), which
        directions light up, and whether a simple classifier can read a property straight out of them (say,
        whether the next character is a vowel).
      </>
    ),
    component: ProbingPage,
  },
  {
    id: 'eval',
    title: 'Eval',
    intro: (
      <>
        A falling training loss does not prove a model is good. <strong>Evaluation</strong> measures it on
        held-out tasks: multiple-choice benchmarks scored by how likely the model finds each answer,
        perplexity (how surprised it is by real text), code run against unit tests, and another model acting
        as judge. Run them here, read what each score means and how uncertain it is, look at the questions the
        model got wrong, and compare models and checkpoints on the leaderboard.
      </>
    ),
    component: EvalPage,
  },
  {
    id: 'experiments',
    title: 'Experiments',
    intro: (
      <>
        Learning comes from comparing: the same model with a different learning rate, tokenizer or dataset. An
        experiment groups runs so their curves and scores can be laid side by side, with the settings that
        differ highlighted.
      </>
    ),
    planned:
      'List past runs with their settings, overlay their loss curves and compare their evaluation scores.',
  },
];

export const defaultPage = pages[0]!;

export function findPage(id: string): PageDef | undefined {
  // A page may keep its own state after its id: `#/data/<dataset>/<version>`.
  return pages.find((p) => p.id === id.split('/')[0]);
}
