/**
 * BERT WordPiece tokenizer on top of Hugging Face's `tokenizers` Node binding,
 * loading and saving the same files as transformers' `BertTokenizerFast`.
 *
 * Truncation, special tokens and padding are applied here, per call, instead of
 * through the binding's tokenizer-wide `setTruncation` / `setPadding` state: the
 * binding reads that state when its worker thread runs, so two concurrent
 * `encode` calls with different options would otherwise race.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tk from 'tokenizers';

import { writeFileAtomic } from '../util/atomic-write';
import { CONTINUING_SUBWORD_PREFIX, learnWordPieceVocabulary, MAX_WORDPIECE_VOCAB_SIZE } from './wordpiece-trainer';
import { describeValue } from '../util/describe-value';
import { optionalObject, positiveInteger, requiredPositiveInteger, stringArray } from '../util/is';
import { TOKENIZERS_WITHOUT_TOKEN_TYPES } from '../model/architectures';

/** Options of `fromDirectory` / `fromVocab` that change the tokenizer's default length. */
export interface TokenizerOptions {
  /** Overrides the default max length (min(model_max_length, max_position_embeddings, 512)). */
  maxLength?: number;
}

export interface FromDirectoryOptions extends TokenizerOptions {
  /**
   * The model's `max_position_embeddings`. When omitted, `fromDirectory` reads it from
   * `config.json` in the same folder if that file exists.
   */
  maxPositionEmbeddings?: number;
  /**
   * What to assume where the folder's files say nothing (a tokenizer.json without tokenizer_config.json): the model
   * architecture's tokenizer class and special tokens (AutoClassifier passes its model_type's).
   */
  defaults?: Partial<BertTokenizerConfig>;
}

export interface EncodeOptions {
  /** `true`/`'longest'` (default): pad to the longest sequence of the batch; `'max_length'`: pad to maxLength; `false`: no padding (ragged rows). */
  padding?: boolean | 'longest' | 'max_length';
  /** Default `true`: truncate to maxLength (special tokens included); pairs use transformers' 'longest_first'. */
  truncation?: boolean;
  /** Defaults to the tokenizer's `maxLength`. */
  maxLength?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
}

/** The tokenizer settings saved to / read from `tokenizer_config.json`. */
export interface BertTokenizerConfig {
  /** `do_lower_case` (default true). */
  doLowerCase: boolean;
  /** `strip_accents`; `null` (default) follows `doLowerCase`. */
  stripAccents: boolean | null;
  /** `tokenize_chinese_chars` (default true). */
  tokenizeChineseChars: boolean;
  /** `model_max_length`; `null` when unknown (transformers' VERY_LARGE_INTEGER). */
  modelMaxLength: number | null;
  clsToken: string;
  sepToken: string;
  padToken: string;
  unkToken: string;
  maskToken: string;
  /** `tokenizer_class` (default 'BertTokenizer'): written back on save; RoBERTa's, XLM-R's and DistilBERT's give no token types. */
  tokenizerClass: string;
}

export interface TrainWordPieceOptions {
  /** Target vocabulary size, the 5 special tokens included (never smaller than specials + alphabet, like the Rust trainer). */
  vocabSize: number;
  /** A merge is learned only if its pair occurs at least this many times (default 2, as in HF's BertWordPieceTokenizer.train). */
  minFrequency?: number;
  /** Lowercase and strip accents (default true). */
  lowercase?: boolean;
  /** Called as the texts are read (every 1,000 texts and at the end), then after each learned token. */
  onProgress?: (progress: WordPieceProgress) => void;
}

/** How far learning a WordPiece vocabulary is. */
export interface WordPieceProgress {
  /** 'count': reading the texts into word counts; 'merge': learning tokens from the counts. */
  phase: 'count' | 'merge';
  /** Texts read so far. */
  texts: number;
  /** Distinct words counted so far (words longer than the 100 characters WordPiece encodes are left out). */
  words: number;
  /** Tokens in the vocabulary so far (0 while counting). */
  tokens: number;
  /** The target vocabulary size. */
  vocabSize: number;
}

const DEFAULT_CONFIG: BertTokenizerConfig = {
  doLowerCase: true,
  stripAccents: null,
  tokenizeChineseChars: true,
  modelMaxLength: null,
  clsToken: '[CLS]',
  sepToken: '[SEP]',
  padToken: '[PAD]',
  unkToken: '[UNK]',
  maskToken: '[MASK]',
  tokenizerClass: 'BertTokenizer',
};

/** What transformers writes as model_max_length when it is unknown: int(1e30). */
const VERY_LARGE_INTEGER_JSON = '1000000000000000019884624838656';
const ABSOLUTE_MAX_LENGTH = 512;
const MAX_INPUT_CHARS_PER_WORD = 100;
/** Texts between two 'count' progress reports of trainWordPiece. */
const PROGRESS_EVERY_TEXTS = 1000;

const TOKENIZER_FILE = 'tokenizer.json';
const VOCAB_FILE = 'vocab.txt';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
const SPECIAL_TOKENS_MAP_FILE = 'special_tokens_map.json';
const MODEL_CONFIG_FILE = 'config.json';

type PaddingMode = 'none' | 'longest' | 'max_length';
type Json = Record<string, unknown>;

interface ResolvedEncodeOptions {
  padding: PaddingMode;
  truncation: boolean;
  maxLength: number;
}

interface BuildInit {
  tokenizer: tk.Tokenizer;
  config: BertTokenizerConfig;
  /** Contents of tokens already registered as added tokens (tokenizer.json `added_tokens`). */
  existingAddedTokens?: Map<string, { special: boolean }>;
  maxPositionEmbeddings?: number;
  maxLength?: number;
}

// ---------------------------------------------------------------------------------------------
// small validation helpers

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function parseJsonObject(text: string, file: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`Invalid JSON in ${file}: ${errorMessage(err)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`Invalid ${file}: expected a JSON object`);
  }
  return parsed as Json;
}

async function readJsonIfExists(file: string): Promise<Json | undefined> {
  const text = await readTextIfExists(file);
  return text === undefined ? undefined : parseJsonObject(text, file);
}

/** A special token in tokenizer_config.json / special_tokens_map.json: a string or an AddedToken dict. */
function tokenValue(json: Json, key: string, file: string): string | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  throw new Error(`Invalid ${file}: "${key}" must be a string or an object with a "content" string`);
}

function boolValue(json: Json, key: string, file: string): boolean | undefined {
  const value = json[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new Error(`Invalid ${file}: "${key}" must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** Only the keys actually present in the file (so that tokenizer.json's normalizer can fill the rest). */
function parseTokenizerConfig(json: Json | undefined, file: string): Partial<BertTokenizerConfig> {
  const out: Partial<BertTokenizerConfig> = {};
  if (json === undefined) return out;
  const lower = boolValue(json, 'do_lower_case', file);
  if (lower !== undefined) out.doLowerCase = lower;
  if ('strip_accents' in json) {
    const strip = json.strip_accents;
    if (strip !== null && typeof strip !== 'boolean') {
      throw new Error(`Invalid ${file}: "strip_accents" must be a boolean or null, got ${describeValue(strip)}`);
    }
    out.stripAccents = strip;
  }
  const chinese = boolValue(json, 'tokenize_chinese_chars', file);
  if (chinese !== undefined) out.tokenizeChineseChars = chinese;
  const mml = json.model_max_length;
  if (mml !== undefined && mml !== null) {
    if (typeof mml !== 'number' || !(mml > 0)) {
      throw new Error(`Invalid ${file}: "model_max_length" must be a positive number, got ${describeValue(mml)}`);
    }
    // transformers stores int(1e30) when the length is unknown.
    out.modelMaxLength = mml > Number.MAX_SAFE_INTEGER ? null : Math.floor(mml);
  }
  if (typeof json.tokenizer_class === 'string') out.tokenizerClass = json.tokenizer_class;
  Object.assign(out, parseSpecialTokens(json, file));
  return out;
}

function parseSpecialTokens(json: Json | undefined, file: string): Partial<BertTokenizerConfig> {
  const out: Partial<BertTokenizerConfig> = {};
  if (json === undefined) return out;
  const keys: Array<[keyof BertTokenizerConfig, string]> = [
    ['clsToken', 'cls_token'],
    ['sepToken', 'sep_token'],
    ['padToken', 'pad_token'],
    ['unkToken', 'unk_token'],
    ['maskToken', 'mask_token'],
  ];
  for (const [prop, key] of keys) {
    const v = tokenValue(json, key, file);
    if (v !== undefined) (out as Record<string, unknown>)[prop] = v;
  }
  return out;
}

function validateConfig(config: Partial<BertTokenizerConfig>, name: string): Partial<BertTokenizerConfig> {
  const c = optionalObject(config, name) as Partial<BertTokenizerConfig>;
  for (const key of ['doLowerCase', 'tokenizeChineseChars'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'boolean') {
      throw new TypeError(`${name}.${key} must be a boolean, got ${describeValue(c[key])}`);
    }
  }
  if (c.stripAccents !== undefined && c.stripAccents !== null && typeof c.stripAccents !== 'boolean') {
    throw new TypeError(`${name}.stripAccents must be a boolean or null, got ${describeValue(c.stripAccents)}`);
  }
  if (c.modelMaxLength !== undefined && c.modelMaxLength !== null) {
    positiveInteger(c.modelMaxLength, `${name}.modelMaxLength`);
  }
  for (const key of ['clsToken', 'sepToken', 'padToken', 'unkToken', 'maskToken', 'tokenizerClass'] as const) {
    const v = c[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw new TypeError(`${name}.${key} must be a non-empty string, got ${describeValue(v)}`);
    }
  }
  return c;
}

function bertNormalizerFor(config: BertTokenizerConfig, cleanText = true): tk.Normalizer {
  return tk.bertNormalizer({
    cleanText,
    handleChineseChars: config.tokenizeChineseChars,
    // undefined = follow `lowercase` (serialized as strip_accents: null, like transformers' files)
    stripAccents: config.stripAccents ?? undefined,
    lowercase: config.doLowerCase,
  });
}

function sortedKeys(obj: Json): Json {
  const out: Json = {};
  for (const key of Object.keys(obj).sort()) out[key] = obj[key];
  return out;
}

// ---------------------------------------------------------------------------------------------

export class BertTokenizer {
  /** Default length used for truncation and `padding: 'max_length'`. */
  readonly maxLength: number;
  /** Size of the id space: highest id (model vocab and added tokens) + 1, i.e. the embedding rows needed. */
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  readonly unkTokenId: number;
  readonly maskTokenId: number;
  readonly config: Readonly<BertTokenizerConfig>;
  /** `max_position_embeddings` when known (caps `maxLength`). */
  readonly maxPositionEmbeddings: number | null;

  private readonly tokenizer: tk.Tokenizer;
  private readonly decoder: tk.Decoder | null;
  private readonly specialIds: Set<number>;
  private readonly addedSingle: number;
  private readonly addedPair: number;
  /** transformers' tokenizer gives token_type_ids (model_input_names); without them the model sees zeros. */
  private readonly withTokenTypes: boolean;

  private constructor(init: BuildInit) {
    const { tokenizer, config } = init;
    this.tokenizer = tokenizer;
    this.config = Object.freeze({ ...config });
    // encode() does truncation/padding itself; a tokenizer.json may carry its own settings.
    tokenizer.disableTruncation();
    tokenizer.disablePadding();

    // Like PreTrainedTokenizerFast: make sure every special token is a (special) added token,
    // in transformers' order (unk, sep, pad, cls, mask) so new ids match transformers'.
    const existing = init.existingAddedTokens ?? new Map<string, { special: boolean }>();
    const order = [config.unkToken, config.sepToken, config.padToken, config.clsToken, config.maskToken];
    const missing = order.filter((t, i) => !existing.has(t) && order.indexOf(t) === i);
    if (missing.length > 0) tokenizer.addSpecialTokens(missing);

    const idOf = (token: string, what: string): number => {
      const id = tokenizer.tokenToId(token);
      if (id === null || id === undefined) throw new Error(`The ${what} ${JSON.stringify(token)} has no id in the tokenizer`);
      return id;
    };
    this.clsTokenId = idOf(config.clsToken, 'cls token');
    this.sepTokenId = idOf(config.sepToken, 'sep token');
    this.padTokenId = idOf(config.padToken, 'pad token');
    this.unkTokenId = idOf(config.unkToken, 'unk token');
    this.maskTokenId = idOf(config.maskToken, 'mask token');

    this.specialIds = new Set([this.clsTokenId, this.sepTokenId, this.padTokenId, this.unkTokenId, this.maskTokenId]);
    for (const [content, info] of existing) {
      if (!info.special) continue;
      const id = tokenizer.tokenToId(content);
      if (id !== null && id !== undefined) this.specialIds.add(id);
    }

    if (tokenizer.getPostProcessor() === null) {
      tokenizer.setPostProcessor(bertTemplate(config, this.clsTokenId, this.sepTokenId));
    }
    const empty = tk.mergeEncodings([]);
    this.addedSingle = tokenizer.postProcess(empty, undefined, true).getLength();
    this.addedPair = tokenizer.postProcess(empty, empty, true).getLength();

    this.decoder = tokenizer.getDecoder();
    this.withTokenTypes = !TOKENIZERS_WITHOUT_TOKEN_TYPES.includes(config.tokenizerClass);

    let maxId = -1;
    for (const [, id] of vocabEntries(tokenizer, true)) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    this.maxPositionEmbeddings = init.maxPositionEmbeddings ?? null;
    const limits = [ABSOLUTE_MAX_LENGTH];
    if (config.modelMaxLength !== null) limits.push(config.modelMaxLength);
    if (init.maxPositionEmbeddings !== undefined) limits.push(init.maxPositionEmbeddings);
    let maxLength = Math.min(...limits);
    if (init.maxLength !== undefined) {
      this.checkAgainstPositions(init.maxLength);
      maxLength = init.maxLength;
    }
    this.maxLength = maxLength;
  }

  // -------------------------------------------------------------------------------------------
  // construction

  /**
   * Loads a tokenizer folder like transformers' `BertTokenizerFast.from_pretrained`: `tokenizer.json`
   * when present (plus `tokenizer_config.json` / `special_tokens_map.json` for model_max_length,
   * casing and special tokens), else the BERT pipeline built from `vocab.txt` + `tokenizer_config.json`.
   */
  static async fromDirectory(dir: string, options?: FromDirectoryOptions): Promise<BertTokenizer> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new TypeError(`dir must be a non-empty string, got ${describeValue(dir)}`);
    }
    const opts = optionalObject(options, 'options') as FromDirectoryOptions;
    const maxLength = positiveInteger(opts.maxLength, 'maxLength');
    let maxPositionEmbeddings = positiveInteger(opts.maxPositionEmbeddings, 'maxPositionEmbeddings');

    const tokenizerFile = path.join(dir, TOKENIZER_FILE);
    const vocabFile = path.join(dir, VOCAB_FILE);
    const configFile = path.join(dir, TOKENIZER_CONFIG_FILE);
    const specialFile = path.join(dir, SPECIAL_TOKENS_MAP_FILE);

    const [tokenizerText, configJson, specialJson] = await Promise.all([
      readTextIfExists(tokenizerFile),
      readJsonIfExists(configFile),
      readJsonIfExists(specialFile),
    ]);
    // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
    const fromFiles: Partial<BertTokenizerConfig> = {
      ...stripUndefined(validateConfig(opts.defaults ?? {}, 'options.defaults')),
      ...parseTokenizerConfig(configJson, configFile),
      ...parseSpecialTokens(specialJson, specialFile),
    };

    if (maxPositionEmbeddings === undefined) {
      const modelConfigFile = path.join(dir, MODEL_CONFIG_FILE);
      const modelConfig = await readJsonIfExists(modelConfigFile);
      const mpe = modelConfig?.max_position_embeddings;
      if (mpe !== undefined) {
        if (typeof mpe !== 'number' || !Number.isInteger(mpe) || mpe <= 0) {
          throw new Error(`Invalid ${modelConfigFile}: "max_position_embeddings" must be a positive integer, got ${describeValue(mpe)}`);
        }
        maxPositionEmbeddings = mpe;
      }
    }

    if (tokenizerText !== undefined) {
      const json = parseJsonObject(tokenizerText, tokenizerFile);
      let tokenizer: tk.Tokenizer;
      try {
        tokenizer = tk.Tokenizer.fromString(tokenizerText);
      } catch (err) {
        throw new Error(`Cannot load ${tokenizerFile}: ${errorMessage(err)}`);
      }
      const ns = json.normalizer as Json | null | undefined;
      const bertState = ns && ns.type === 'BertNormalizer' ? ns : undefined;
      const config: BertTokenizerConfig = {
        ...DEFAULT_CONFIG,
        doLowerCase: typeof bertState?.lowercase === 'boolean' ? bertState.lowercase : DEFAULT_CONFIG.doLowerCase,
        stripAccents: typeof bertState?.strip_accents === 'boolean' ? bertState.strip_accents : null,
        tokenizeChineseChars: typeof bertState?.handle_chinese_chars === 'boolean' ? bertState.handle_chinese_chars : DEFAULT_CONFIG.tokenizeChineseChars,
        ...fromFiles,
      };
      // Like BertTokenizerFast.__init__: settings given in tokenizer_config.json rebuild the normalizer.
      if (
        bertState &&
        (bertState.lowercase !== config.doLowerCase ||
          (bertState.strip_accents ?? null) !== config.stripAccents ||
          bertState.handle_chinese_chars !== config.tokenizeChineseChars)
      ) {
        tokenizer.setNormalizer(bertNormalizerFor(config, bertState.clean_text !== false));
      }
      const existing = new Map<string, { special: boolean }>();
      if (Array.isArray(json.added_tokens)) {
        for (const t of json.added_tokens as Json[]) {
          if (t && typeof t.content === 'string') existing.set(t.content, { special: t.special === true });
        }
      }
      return new BertTokenizer({ tokenizer, config, existingAddedTokens: existing, maxPositionEmbeddings, maxLength });
    }

    const vocabText = await readTextIfExists(vocabFile);
    if (vocabText === undefined) {
      throw new Error(`No tokenizer found in ${dir}: neither ${TOKENIZER_FILE} nor ${VOCAB_FILE} exists there`);
    }
    const lines = vocabText.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    // transformers' load_vocab: one token per line, id = line index (a duplicate keeps its last index).
    const vocab = new Map<string, number>();
    lines.forEach((line, i) => vocab.set(line.endsWith('\r') ? line.slice(0, -1) : line, i));
    const config: BertTokenizerConfig = { ...DEFAULT_CONFIG, ...fromFiles };
    if (!vocab.has(config.unkToken)) {
      throw new Error(`Invalid ${vocabFile}: it has no unk token ${JSON.stringify(config.unkToken)}`);
    }
    return new BertTokenizer({
      tokenizer: buildBertPipeline(vocab, config),
      config,
      maxPositionEmbeddings,
      maxLength,
    });
  }

  /**
   * Builds the BERT pipeline from a vocabulary (array: id = index; Map: token → id), e.g. for a
   * model trained from scratch. Special tokens missing from the vocabulary get new ids after it
   * (as transformers does); the unk token must be in it.
   */
  static fromVocab(vocab: string[] | Map<string, number>, config?: Partial<BertTokenizerConfig>, options?: FromDirectoryOptions): BertTokenizer {
    const map = new Map<string, number>();
    if (Array.isArray(vocab)) {
      stringArray(vocab, 'vocab');
      vocab.forEach((token, i) => {
        if (map.has(token)) throw new RangeError(`vocab[${i}] duplicates vocab[${map.get(token)}] (${JSON.stringify(token)})`);
        map.set(token, i);
      });
    } else if (vocab instanceof Map) {
      const seen = new Map<number, string>();
      for (const [token, id] of vocab) {
        if (typeof token !== 'string') throw new TypeError(`vocab keys must be strings, got ${describeValue(token)}`);
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
          throw new RangeError(`vocab id of ${JSON.stringify(token)} must be a non-negative integer, got ${describeValue(id)}`);
        }
        const other = seen.get(id);
        if (other !== undefined) throw new RangeError(`vocab ids must be unique: ${JSON.stringify(token)} and ${JSON.stringify(other)} both have id ${id}`);
        seen.set(id, token);
        map.set(token, id);
      }
    } else {
      throw new TypeError(`vocab must be an array of strings or a Map<string, number>, got ${describeValue(vocab)}`);
    }
    const full: BertTokenizerConfig = { ...DEFAULT_CONFIG, ...stripUndefined(validateConfig(config ?? {}, 'config')) };
    const opts = optionalObject(options, 'options') as FromDirectoryOptions;
    const maxLength = positiveInteger(opts.maxLength, 'maxLength');
    const maxPositionEmbeddings = positiveInteger(opts.maxPositionEmbeddings, 'maxPositionEmbeddings');
    if (!map.has(full.unkToken)) {
      throw new RangeError(`vocab has no unk token ${JSON.stringify(full.unkToken)}`);
    }
    return new BertTokenizer({ tokenizer: buildBertPipeline(map, full), config: full, maxPositionEmbeddings, maxLength });
  }

  /**
   * Learns a WordPiece vocabulary from `texts` with the algorithm of Hugging Face tokenizers' WordPieceTrainer
   * (src/tokenizer/wordpiece-trainer.ts: a port that gives the same texts the same vocabulary every time, which the Rust
   * trainer does not). The vocabulary is [PAD] [UNK] [CLS] [SEP] [MASK], the alphabet and the "##" characters (by
   * code point), then the learned pieces in the order they were learned, `vocabSize` tokens at most beyond an
   * alphabet that does not fit.
   */
  static async trainWordPiece(texts: string[] | Iterable<string> | AsyncIterable<string>, options: TrainWordPieceOptions): Promise<BertTokenizer> {
    const { tokens, config } = await learnWordPieceTokens(texts, options);
    return BertTokenizer.fromVocab(tokens, config);
  }

  // -------------------------------------------------------------------------------------------
  // encoding / decoding

  /**
   * Tokenizes a batch (optionally of pairs), adds [CLS]/[SEP], truncates (default: to maxLength,
   * 'longest_first' for pairs, exactly like BertTokenizerFast) and pads (default: to the longest row).
   */
  async encode(texts: string[], pairs?: string[] | null, options?: EncodeOptions): Promise<BatchEncoding> {
    const resolved = this.resolveEncode(texts, pairs, options);
    const noSpecials = { addSpecialTokens: false };
    const [first, second] = await Promise.all([
      this.tokenizer.encodeBatch(texts, noSpecials),
      pairs != null ? this.tokenizer.encodeBatch(pairs, noSpecials) : Promise.resolve(undefined),
    ]);
    return this.assemble(first, second, resolved);
  }

  /**
   * ids → text with the WordPiece decoder ("##" pieces joined, tokenization spaces cleaned up).
   * Special tokens (the five and any special added token) are dropped when `skipSpecialTokens`.
   */
  decode(ids: number[], skipSpecialTokens = true): string {
    if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of token ids, got ${describeValue(ids)}`);
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new TypeError(`ids[${i}] must be a non-negative integer, got ${describeValue(id)}`);
      }
      const token = id <= 0xffffffff ? this.tokenizer.idToToken(id) : null;
      if (token === null || token === undefined) throw new RangeError(`ids[${i}] = ${id} is not in the vocabulary`);
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      tokens.push(token);
    }
    return this.decoder ? this.decoder.decode(tokens) : tokens.join(' ');
  }

  /** Token strings of ids (no decoding), e.g. for debugging. */
  convertIdsToTokens(ids: number[]): string[] {
    return ids.map((id, i) => {
      const token = Number.isInteger(id) && id >= 0 && id <= 0xffffffff ? this.tokenizer.idToToken(id) : null;
      if (token === null || token === undefined) throw new RangeError(`ids[${i}] = ${id} is not in the vocabulary`);
      return token;
    });
  }

  // -------------------------------------------------------------------------------------------
  // saving

  /**
   * Writes tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json like
   * `BertTokenizerFast.save_pretrained`, each atomically (temporary file + rename).
   */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`dir must be a non-empty string, got ${describeValue(dir)}`);
    await fsp.mkdir(dir, { recursive: true });

    const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bert-tokenizer-'));
    let tokenizerJson: string;
    try {
      const tmpFile = path.join(tmpDir, TOKENIZER_FILE);
      this.tokenizer.save(tmpFile, true);
      tokenizerJson = await fsp.readFile(tmpFile, 'utf8');
    } finally {
      await fsp.rm(tmpDir, { recursive: true, force: true });
    }
    const parsed = JSON.parse(tokenizerJson) as Json;

    // vocab.txt: the model vocabulary by id (what WordPiece.save writes).
    const modelVocab = vocabEntries(this.tokenizer, false).sort((a, b) => a[1] - b[1]);
    const vocabTxt = modelVocab.map(([token]) => token + '\n').join('');

    const addedTokensDecoder: Json = {};
    if (Array.isArray(parsed.added_tokens)) {
      for (const t of parsed.added_tokens as Json[]) {
        addedTokensDecoder[String(t.id)] = sortedKeys({
          content: t.content,
          lstrip: t.lstrip ?? false,
          normalized: t.normalized ?? false,
          rstrip: t.rstrip ?? false,
          single_word: t.single_word ?? false,
          special: t.special ?? false,
        });
      }
    }
    const c = this.config;
    const specialMap = sortedKeys({
      cls_token: c.clsToken,
      mask_token: c.maskToken,
      pad_token: c.padToken,
      sep_token: c.sepToken,
      unk_token: c.unkToken,
    });
    const tokenizerConfig = sortedKeys({
      added_tokens_decoder: addedTokensDecoder,
      clean_up_tokenization_spaces: true,
      do_lower_case: c.doLowerCase,
      model_max_length: c.modelMaxLength ?? 0,
      strip_accents: c.stripAccents,
      tokenize_chinese_chars: c.tokenizeChineseChars,
      tokenizer_class: c.tokenizerClass,
      ...specialMap,
    });
    let configText = JSON.stringify(tokenizerConfig, null, 2);
    if (c.modelMaxLength === null) {
      // Unknown length: what transformers writes (int(1e30)), read back as null.
      configText = configText.replace('"model_max_length": 0', `"model_max_length": ${VERY_LARGE_INTEGER_JSON}`);
    }

    // vocab.txt is WordPiece's file; byte-level BPE and Unigram models live in tokenizer.json alone.
    if ((parsed.model as Json | undefined)?.type === 'WordPiece') await writeFileAtomic(path.join(dir, VOCAB_FILE), vocabTxt);
    await writeFileAtomic(path.join(dir, SPECIAL_TOKENS_MAP_FILE), JSON.stringify(specialMap, null, 2) + '\n');
    await writeFileAtomic(path.join(dir, TOKENIZER_CONFIG_FILE), configText + '\n');
    await writeFileAtomic(path.join(dir, TOKENIZER_FILE), tokenizerJson);
  }

  // -------------------------------------------------------------------------------------------
  // internals

  private checkAgainstPositions(maxLength: number): void {
    if (this.maxPositionEmbeddings !== null && maxLength > this.maxPositionEmbeddings) {
      throw new RangeError(`maxLength (${maxLength}) exceeds max_position_embeddings (${this.maxPositionEmbeddings})`);
    }
  }

  private resolveEncode(texts: unknown, pairs: unknown, options: unknown): ResolvedEncodeOptions {
    const textList = stringArray(texts, 'texts');
    if (pairs !== undefined && pairs !== null) {
      const pairList = stringArray(pairs, 'pairs');
      if (pairList.length !== textList.length) {
        throw new RangeError(`pairs must have the same length as texts (${textList.length}), got ${pairList.length}`);
      }
    }
    const opts = optionalObject(options, 'options') as EncodeOptions;
    let padding: PaddingMode;
    const p = opts.padding;
    if (p === undefined || p === true || p === 'longest') padding = 'longest';
    else if (p === false) padding = 'none';
    else if (p === 'max_length') padding = 'max_length';
    else throw new TypeError(`padding must be true, false, 'longest' or 'max_length', got ${describeValue(p)}`);
    const truncation = opts.truncation ?? true;
    if (typeof truncation !== 'boolean') throw new TypeError(`truncation must be a boolean, got ${describeValue(truncation)}`);
    let maxLength = this.maxLength;
    if (opts.maxLength !== undefined) {
      maxLength = positiveInteger(opts.maxLength, 'maxLength', this.maxLength);
      this.checkAgainstPositions(maxLength);
    }
    const added = pairs != null ? this.addedPair : this.addedSingle;
    if (truncation && maxLength < added) {
      throw new RangeError(`maxLength (${maxLength}) is smaller than the ${added} special tokens added to each ${pairs != null ? 'pair' : 'sequence'}`);
    }
    return { padding, truncation, maxLength };
  }

  private assemble(first: tk.Encoding[], second: tk.Encoding[] | undefined, o: ResolvedEncodeOptions): BatchEncoding {
    const n = first.length;
    const inputIds: number[][] = new Array(n);
    const attentionMask: number[][] = new Array(n);
    const tokenTypeIds: number[][] = new Array(n);
    const budget = o.maxLength - (second ? this.addedPair : this.addedSingle);
    let longest = 0;
    for (let i = 0; i < n; i++) {
      const a = first[i];
      const b = second?.[i];
      if (o.truncation) truncateLongestFirst(a, b, budget);
      const enc = this.tokenizer.postProcess(a, b, true);
      inputIds[i] = enc.getIds();
      attentionMask[i] = enc.getAttentionMask();
      tokenTypeIds[i] = this.withTokenTypes ? enc.getTypeIds() : new Array<number>(enc.getLength()).fill(0);
      if (inputIds[i].length > longest) longest = inputIds[i].length;
    }
    const target = o.padding === 'longest' ? longest : o.padding === 'max_length' ? o.maxLength : 0;
    for (let i = 0; i < n; i++) {
      const missing = target - inputIds[i].length;
      if (missing <= 0) continue;
      for (let k = 0; k < missing; k++) {
        inputIds[i].push(this.padTokenId);
        attentionMask[i].push(0);
        tokenTypeIds[i].push(0);
      }
    }
    return { inputIds, attentionMask, tokenTypeIds };
  }
}

// ---------------------------------------------------------------------------------------------
// pipeline pieces

/**
 * [token, id] pairs of the vocabulary. The binding returns it as a plain JS object, where a
 * "__proto__" token is swallowed by the prototype setter; get it back by name when the count says
 * something is missing.
 */
function vocabEntries(tokenizer: tk.Tokenizer, withAddedTokens: boolean): Array<[string, number]> {
  const entries = Object.entries(tokenizer.getVocab(withAddedTokens));
  if (entries.length < tokenizer.getVocabSize(withAddedTokens) && !entries.some(([t]) => t === '__proto__')) {
    const id = tokenizer.tokenToId('__proto__');
    if (id !== null && id !== undefined) entries.push(['__proto__', id]);
  }
  return entries;
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(obj) as Array<keyof T>) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

function bertTemplate(config: BertTokenizerConfig, clsId: number, sepId: number): tk.Processor {
  const cls = config.clsToken;
  const sep = config.sepToken;
  return tk.templateProcessing(`${cls}:0 $A:0 ${sep}:0`, `${cls}:0 $A:0 ${sep}:0 $B:1 ${sep}:1`, [
    [cls, clsId],
    [sep, sepId],
  ]);
}

/**
 * What BertTokenizer.trainWordPiece learns, before it becomes a tokenizer: the vocabulary (tokens by id) and the
 * tokenizer configuration it was learned under (for callers that build the tokenizer with other options).
 */
export async function learnWordPieceTokens(
  texts: string[] | Iterable<string> | AsyncIterable<string>,
  options: TrainWordPieceOptions,
): Promise<{ tokens: string[]; config: BertTokenizerConfig }> {
  const isIterable =
    texts !== null &&
    typeof texts === 'object' &&
    (typeof (texts as Iterable<string>)[Symbol.iterator] === 'function' || typeof (texts as AsyncIterable<string>)[Symbol.asyncIterator] === 'function');
  if (!isIterable || typeof texts === 'string') {
    throw new TypeError(`texts must be an array or (async) iterable of strings, got ${describeValue(texts)}`);
  }
  const opts = optionalObject(options, 'options') as Partial<TrainWordPieceOptions>;
  const vocabSize = requiredPositiveInteger(opts.vocabSize, 'vocabSize');
  if (vocabSize > MAX_WORDPIECE_VOCAB_SIZE) throw new RangeError(`vocabSize must be at most ${MAX_WORDPIECE_VOCAB_SIZE}, got ${vocabSize}`);
  let minFrequency = 2;
  if (opts.minFrequency !== undefined) {
    if (typeof opts.minFrequency !== 'number') throw new TypeError(`minFrequency must be a non-negative integer, got ${describeValue(opts.minFrequency)}`);
    if (!Number.isInteger(opts.minFrequency) || opts.minFrequency < 0) {
      throw new RangeError(`minFrequency must be a non-negative integer, got ${opts.minFrequency}`);
    }
    minFrequency = opts.minFrequency;
  }
  if (opts.lowercase !== undefined && typeof opts.lowercase !== 'boolean') {
    throw new TypeError(`lowercase must be a boolean, got ${describeValue(opts.lowercase)}`);
  }
  const lowercase = opts.lowercase ?? true;
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError(`onProgress must be a function, got ${describeValue(opts.onProgress)}`);
  }
  const onProgress = opts.onProgress;
  const config: BertTokenizerConfig = { ...DEFAULT_CONFIG, doLowerCase: lowercase };
  const specialTokens = [config.padToken, config.unkToken, config.clsToken, config.sepToken, config.maskToken];

  // Words as the tokenizer will see them: BERT's normalizer, then its pre-tokenizer.
  const normalizer = bertNormalizerFor(config);
  const preTokenizer = tk.bertPreTokenizer();
  const wordCounts = new Map<string, number>();
  let index = 0;
  const report = (phase: WordPieceProgress['phase'], tokens: number): void => onProgress?.({ phase, texts: index, words: wordCounts.size, tokens, vocabSize });
  for await (const text of texts as AsyncIterable<unknown>) {
    if (typeof text !== 'string') throw new TypeError(`texts[${index}] must be a string, got ${describeValue(text)}`);
    index++;
    for (const [word] of preTokenizer.preTokenizeString(normalizer.normalizeString(text))) {
      // The encoder gives a longer word one [UNK] whatever its pieces; counted, a long run of one character would
      // only cost merges (and, being rare, teach nothing).
      if (word.length > MAX_INPUT_CHARS_PER_WORD && codePointCount(word) > MAX_INPUT_CHARS_PER_WORD) continue;
      wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
    if (index % PROGRESS_EVERY_TEXTS === 0) report('count', 0);
  }
  report('count', 0);
  const onMerge = onProgress && ((tokens: number) => report('merge', tokens));
  return { tokens: learnWordPieceVocabulary(wordCounts, { vocabSize, minFrequency, specialTokens, onMerge }), config };
}

/** Code points in `text` (what WordPiece's max_input_chars_per_word counts). */
function codePointCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** BertTokenizerFast's pipeline (transformers' BertConverter) over a vocabulary. */
function buildBertPipeline(vocab: Map<string, number>, config: BertTokenizerConfig): tk.Tokenizer {
  // A null-prototype object so tokens such as "__proto__" stay plain keys.
  const record: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [token, id] of vocab) record[token] = id;
  const model = tk.WordPiece.init(record, {
    unkToken: config.unkToken,
    continuingSubwordPrefix: CONTINUING_SUBWORD_PREFIX,
    maxInputCharsPerWord: MAX_INPUT_CHARS_PER_WORD,
  });
  const tokenizer = new tk.Tokenizer(model);
  tokenizer.setNormalizer(bertNormalizerFor(config));
  tokenizer.setPreTokenizer(tk.bertPreTokenizer());
  tokenizer.setDecoder(tk.wordPieceDecoder(CONTINUING_SUBWORD_PREFIX, true));
  // The post-processor needs the ids of [CLS]/[SEP], which may only exist once the special tokens are
  // added (constructor); it sets the template when the tokenizer has none.
  return tokenizer;
}

/**
 * The Rust tokenizers' 'longest_first' truncation (what BertTokenizerFast does), in place, keeping
 * the start of each sequence. NB: the binding's `Encoding.truncate` defaults to cutting from the LEFT.
 */
function truncateLongestFirst(a: tk.Encoding, b: tk.Encoding | undefined, budget: number): void {
  const la = a.getLength();
  if (!b) {
    if (la > budget) a.truncate(budget, 0, 'right');
    return;
  }
  const lb = b.getLength();
  if (la + lb <= budget) return;
  let n1 = la;
  let n2 = lb;
  let swap = false;
  if (n1 > n2) {
    swap = true;
    [n1, n2] = [n2, n1];
  }
  n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  if (swap) [n1, n2] = [n2, n1];
  if (la > n1) a.truncate(n1, 0, 'right');
  if (lb > n2) b.truncate(n2, 0, 'right');
}
