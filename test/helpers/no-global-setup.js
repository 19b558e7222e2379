// jest's globalSetup for scripts/gpu-check.sh's run of test/cuda-parity.test.ts: that test makes its own model and
// data (bench/gpu_reference.py), so the GPU machine need not generate test/global-setup.ts's fixtures first.
module.exports = async function noGlobalSetup() {};
