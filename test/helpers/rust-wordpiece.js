// One run of Hugging Face tokenizers' own WordPiece trainer (the Rust one, through the Node binding), for
// test/wordpiece-trainer.test.ts: `node rust-wordpiece.js TEXTS.json OUT.json`. Writes { vocab, wordCounts }: the
// vocabulary it learned (tokens by id) and the words it learned from (BERT's normalizer, lowercasing, then BERT's
// pre-tokenizer), so that the test can feed our port the same words. A child process because the binding's trainer
// writes to file descriptor 1 itself; the test starts it with stdout ignored.
const fs = require('fs');
const os = require('os');
const path = require('path');
const tk = require('tokenizers');

const [textsFile, outFile] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
const normalizer = tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true });
const preTokenizer = tk.bertPreTokenizer();

const wordCounts = new Map();
for (const text of texts) {
  for (const [word] of preTokenizer.preTokenizeString(normalizer.normalizeString(text))) {
    wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-wordpiece-'));
try {
  const corpus = path.join(dir, 'corpus.txt');
  fs.writeFileSync(corpus, `${texts.join('\n')}\n`);
  const tokenizer = new tk.Tokenizer(tk.WordPiece.init({ '[UNK]': 0 }, { unkToken: '[UNK]' }));
  tokenizer.setNormalizer(normalizer);
  tokenizer.setPreTokenizer(preTokenizer);
  tokenizer.train([corpus]); // the binding's defaults: vocab_size 30000, min_frequency 0, no special tokens
  const vocab = Object.entries(tokenizer.getVocab(false))
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token);
  fs.writeFileSync(outFile, JSON.stringify({ vocab, wordCounts: [...wordCounts] }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
