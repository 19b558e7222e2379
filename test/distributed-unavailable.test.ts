// A build whose LibTorch lacks c10d (or Gloo): asking for data-parallel training rejects with an Error that says
// why and how to get it, instead of failing somewhere in the native code. The addon's report is mocked here; the
// native side of such a build (native/distributed/process_group.cpp without BERT_TRAINER_DISTRIBUTED) throws the
// same way if reached.
import { DistributedContext, resolveDistributedOption } from '../src/engine/distributed';

jest.mock('../src/engine/native', () => ({
  native: () => ({ distributed: { available: false, backends: [] }, torchVersion: '1.13.1', cudaAvailable: false }),
}));

test('the distributed option rejects with a clear Error on a build without c10d', async () => {
  const options = resolveDistributedOption({ rank: 0, worldSize: 2 });
  await expect(DistributedContext.join(options)).rejects.toThrow(
    /distributed asks for data-parallel training, but this build of bert-trainer has no distributed support: the LibTorch it was built against \(1\.13\.1\) lacks PyTorch's c10d with Gloo \(Debian: apt-get install libgloo-dev/,
  );
});
