// One rule for a whole label column, not one per row. Under labelType 'auto' a column is read one way: JSON numbers
// and JSON strings may not mix (`1` and `"2"` would both become class ids, silently), and a column of texts whose
// labels are not all integers is a column of names (labels "1" … "5" and "5+" are six names, not five ids and a
// name). The readers note each row's kind of label here; the first row of a second kind ends the read with an Error
// naming the first row of each kind.
import { RowPosition, describePosition } from './row-position';
import type { Label } from './example';

/** How a row gave its label: a JSON/Parquet number, or a text read as a class id, or a text read as a name. */
export type LabelKind = 'number' | 'idText' | 'nameText';

/** A label column holding both JSON numbers and JSON strings (labelType 'auto'). */
export const ERR_MIXED_LABEL_TYPES = 'ERR_MIXED_LABEL_TYPES';
/** A text label column holding both integers and other texts (labelType 'auto'): read it again as names. */
export const ERR_LABEL_IDS_AND_NAMES = 'ERR_LABEL_IDS_AND_NAMES';

export class LabelColumnError extends Error {
  constructor(
    message: string,
    readonly code: typeof ERR_MIXED_LABEL_TYPES | typeof ERR_LABEL_IDS_AND_NAMES,
  ) {
    super(message);
    this.name = 'LabelColumnError';
  }
}

/** The kind of a scalar label as read from `raw` (undefined for lists and absent labels: no column rule). */
export function labelKindOf(raw: unknown, label: Label | undefined): LabelKind | undefined {
  if (label === undefined || Array.isArray(label)) return undefined;
  if (typeof raw === 'number' || typeof raw === 'bigint') return 'number';
  return typeof label === 'number' ? 'idText' : 'nameText';
}

/** The first row of each kind of label seen in one pass over a file. */
export class LabelKinds {
  private readonly first = new Map<LabelKind, { position: RowPosition; label: string }>();

  constructor(
    private readonly file: string,
    private readonly column: string,
    /** 'field' for JSONL, 'column' otherwise. */
    private readonly columnWord: 'field' | 'column',
  ) {}

  /** Notes a row's label kind; throws a LabelColumnError when it is the first row of a kind the column must not mix. */
  note(kind: LabelKind | undefined, position: RowPosition, raw: unknown): void {
    if (kind === undefined || this.first.has(kind)) return;
    this.first.set(kind, { position, label: JSON.stringify(typeof raw === 'bigint' ? Number(raw) : raw) });
    const number = this.first.get('number');
    const text = this.first.get('idText') ?? this.first.get('nameText');
    const where = `${this.file}: the label ${this.columnWord} ${JSON.stringify(this.column)}`;
    const at = (seen: { position: RowPosition; label: string }): string => `first at ${describePosition(seen.position)}: ${seen.label}`;
    if (number && text) {
      throw new LabelColumnError(
        `${where} mixes numbers (${at(number)}) and strings (${at(text)}); write every label the same way: numbers for class ids, strings for label names`,
        ERR_MIXED_LABEL_TYPES,
      );
    }
    const ids = this.first.get('idText');
    const names = this.first.get('nameText');
    if (ids && names) {
      throw new LabelColumnError(
        `${where} mixes integers (${at(ids)}) and other texts (${at(names)}): not all labels are class ids, so every label is a name; read it with labelType 'name' (--label-type name)`,
        ERR_LABEL_IDS_AND_NAMES,
      );
    }
  }
}
