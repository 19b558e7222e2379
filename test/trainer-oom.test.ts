// Out of memory during a training step is an Error naming the batch size and sequence length, not a crash.
import { BertClassifier, Dataset, Trainer } from '../src';

test('a batch too large for memory rejects fit with the batch size and sequence length, and the model stays usable', async () => {
  // hidden 4096 x 1024 rows x 2048 tokens: the embedding output alone is 32 GiB, more than this machine has,
  // so LibTorch's allocator refuses it at once (nothing is touched before the refusal).
  const model = await BertClassifier.fromConfig(
    { vocab_size: 8, hidden_size: 4096, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 4, max_position_embeddings: 2048 },
    { seed: 1 },
  );
  const row = new Array(2048).fill(1);
  const huge = Dataset.fromArray(Array.from({ length: 1024 }, (_, i) => ({ inputIds: row, label: i % 2 })));
  const trainer = new Trainer(model, { epochs: 1, batchSize: 1024, learningRate: 1e-3 });
  await expect(trainer.fit(huge)).rejects.toThrow(/out of memory in a training step with batch size 1024 and sequence length 2048/);

  // The process and the model survive: a small batch trains, and the weights are finite.
  const small = Dataset.fromArray([
    { inputIds: [1, 2, 3], label: 0 },
    { inputIds: [3, 2], label: 1 },
  ]);
  const result = await new Trainer(model, { epochs: 1, batchSize: 2, learningRate: 1e-3 }).fit(small);
  expect(Number.isFinite(result.metrics.trainLoss)).toBe(true);
  model.dispose();
}, 120000);
