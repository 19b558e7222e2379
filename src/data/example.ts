// What an example is: a text (or text pair) or pre-tokenized ids, with an optional label. Types only, shared by
// in-memory datasets, files and streams.

/**
 * A class id or label name (single-label); an array of numbers (multi-hot / probabilities for multi-label, or
 * the targets of a multi-target regression) or of label names (multi-label); a number (regression).
 */
export type Label = number | string | number[] | string[];

export interface TextExample {
  text: string;
  textPair?: string;
  label?: Label;
}

export interface TokenizedExample {
  inputIds: number[];
  attentionMask?: number[];
  tokenTypeIds?: number[];
  label?: Label;
}

export type Example = TextExample | TokenizedExample;

/** Token ids are int32 on the native side. */
export const INT32_MAX = 2147483647;

export function isTextExample(e: Example): e is TextExample {
  return (e as TextExample).text !== undefined;
}
