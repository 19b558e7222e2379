// The label names a Hugging Face dataset declares for a column: 🤗 datasets writes its features into a Parquet
// file's key-value metadata, under "huggingface", as {"info": {"features": {"label": {"_type": "ClassLabel",
// "names": [...]}}}}. A ClassLabel column stores class ids; names[id] is the class's name. A list of ClassLabels
// (multi-label: "_type" "Sequence" or "List" with a "feature", or a one-element array) has the same names.
import { describeValue as show } from '../util/describe-value';

interface KeyValue {
  key: string;
  value?: string;
}

/** The names of `column`'s ClassLabel (or of the ClassLabel its lists hold), undefined when it declares none. */
export function classLabelNames(keyValueMetadata: readonly KeyValue[] | undefined, column: string, file: string): string[] | undefined {
  const entry = keyValueMetadata?.find((kv) => kv.key === 'huggingface');
  if (entry?.value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.value);
  } catch (err) {
    throw new Error(`${file}: the "huggingface" metadata (the 🤗 datasets features) is not JSON: ${(err as Error).message}`);
  }
  const features = (parsed as { info?: { features?: unknown } } | null)?.info?.features;
  if (features === null || typeof features !== 'object' || !Object.prototype.hasOwnProperty.call(features, column)) return undefined;
  let feature: unknown = (features as Record<string, unknown>)[column];
  // A list feature: {"_type": "Sequence" | "List" | "LargeList", "feature": ...}, or the legacy [feature].
  for (let depth = 0; depth < 2; depth++) {
    if (Array.isArray(feature) && feature.length === 1) feature = feature[0];
    else if (feature !== null && typeof feature === 'object' && 'feature' in feature) feature = (feature as { feature: unknown }).feature;
  }
  if (feature === null || typeof feature !== 'object' || (feature as { _type?: unknown })._type !== 'ClassLabel') return undefined;
  const names = (feature as { names?: unknown }).names;
  const where = `${file}: column ${JSON.stringify(column)}: the ClassLabel of the "huggingface" metadata`;
  if (!Array.isArray(names) || names.length === 0) throw new Error(`${where} has no names (got ${show(names)})`);
  const seen = new Set<string>();
  names.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || name === '') throw new Error(`${where}: names[${i}] must be a non-empty string, got ${show(name)}`);
    if (seen.has(name)) throw new Error(`${where}: names[${i}] repeats ${JSON.stringify(name)}`);
    seen.add(name);
  });
  return names as string[];
}
