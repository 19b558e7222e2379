/* The machine's fp32 FMA peak: what its cores multiply-add when nothing waits on memory, the ceiling every GEMM and
 * every forward is under (a BLAS's sgemm reaches some fraction of it). scripts/bench/common.js compiles and runs it.
 *
 * Usage: fma_peak [threads=2] [repeats=5]
 *   Each thread runs chains of register-only FMAs (12 independent accumulators: more than an FMA's latency times the
 *   FMAs a core issues per cycle), on the widest vectors the CPU has (AVX-512F, else AVX2 with FMA). Prints JSON:
 *   {"gflops": best of `repeats` (2 FLOPs per lane per FMA, all threads over the wall time), "isa", "threads",
 *   "samples_gflops"}. Exits 2 on a CPU without AVX2 and FMA.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACCUMULATORS 12
#define ITERATIONS 50000000L

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each returns the sum of its accumulators, so the compiler keeps the chains. */
__attribute__((target("avx512f"))) static float chains_avx512(long iterations) {
  __m512 acc[ACCUMULATORS];
  const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-6f);
  for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = _mm512_set1_ps((float)i);
  for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
    for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, shift);
  }
  float sum = 0;
  for (int i = 0; i < ACCUMULATORS; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx2,fma"))) static float chains_avx2(long iterations) {
  __m256 acc[ACCUMULATORS];
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-6f);
  for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = _mm256_set1_ps((float)i);
  for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
    for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, shift);
  }
  float lanes[8], sum = 0;
  for (int i = 0; i < ACCUMULATORS; ++i) {
    _mm256_storeu_ps(lanes, acc[i]);
    for (int j = 0; j < 8; ++j) sum += lanes[j];
  }
  return sum;
}

static int use_avx512;
static volatile float sink;

static void* worker(void* unused) {
  (void)unused;
  sink = use_avx512 ? chains_avx512(ITERATIONS) : chains_avx2(ITERATIONS);
  return NULL;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? atoi(argv[2]) : 5;
  if (threads < 1 || threads > 1024 || repeats < 1 || repeats > 100) {
    fprintf(stderr, "usage: fma_peak [threads 1..1024] [repeats 1..100]\n");
    return 1;
  }
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    fprintf(stderr, "fma_peak: this CPU has no AVX2 with FMA\n");
    return 2;
  }
  use_avx512 = __builtin_cpu_supports("avx512f");
  const double lanes = use_avx512 ? 16 : 8;
  const double flops = 2.0 * lanes * ACCUMULATORS * ITERATIONS * threads;
  pthread_t* ids = malloc(sizeof(pthread_t) * threads);
  double best = 0;
  printf("{\"isa\": \"%s\", \"threads\": %d, \"samples_gflops\": [", use_avx512 ? "avx512f" : "avx2", threads);
  for (int r = 0; r < repeats; ++r) {
    const double start = seconds();
    for (int t = 0; t < threads; ++t) pthread_create(&ids[t], NULL, worker, NULL);
    for (int t = 0; t < threads; ++t) pthread_join(ids[t], NULL);
    const double gflops = flops / (seconds() - start) / 1e9;
    if (gflops > best) best = gflops;
    printf("%s%.1f", r ? ", " : "", gflops);
  }
  printf("], \"gflops\": %.1f}\n", best);
  free(ids);
  return 0;
}
