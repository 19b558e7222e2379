// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator.
// Output block n depends only on (key, n), so any thread can produce any part of a stream without a shared state —
// which is what lets dropout draw its mask in parallel and reproducibly. PyTorch's CUDA generator is Philox too.
#pragma once

#include <array>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bert {

constexpr uint32_t kPhiloxMul0 = 0xD2511F53u, kPhiloxMul1 = 0xCD9E8D57u;    // round multipliers
constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u, kPhiloxWeyl1 = 0xBB67AE85u;  // key schedule increments

inline std::array<uint32_t, 4> philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  constexpr uint32_t kMul0 = kPhiloxMul0, kMul1 = kPhiloxMul1;
  constexpr uint32_t kWeyl0 = kPhiloxWeyl0, kWeyl1 = kPhiloxWeyl1;
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = static_cast<uint32_t>(p1);
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0, k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

#if defined(__x86_64__)
// 32 x 32 -> 64-bit products of all eight lanes: _mm256_mul_epu32 multiplies the even lanes; the odd lanes are shifted
// down for a second multiply, and the two halves are blended back into per-lane high and low words.
__attribute__((target("avx2"))) inline void philox_mul_hi_lo_x8(__m256i a, __m256i m, __m256i* high, __m256i* low) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  *low = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Eight consecutive blocks at once on AVX2 (lane i computes block first_block + i with counter_hi = 0), the same
// arithmetic as philox4x32_10: out receives the 32 words in stream order (block first_block's 4 words, then the
// next block's). Callers check for AVX2 at run time (cpu_has_avx2()).
__attribute__((target("avx2"))) inline void philox4x32_10_x8(uint64_t first_block, uint64_t key, uint32_t* out) {
  alignas(32) uint32_t lo[8], hi[8];
  for (int i = 0; i < 8; ++i) {
    const uint64_t counter = first_block + static_cast<uint64_t>(i);
    lo[i] = static_cast<uint32_t>(counter), hi[i] = static_cast<uint32_t>(counter >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  const __m256i mul0 = _mm256_set1_epi32(static_cast<int>(kPhiloxMul0));
  const __m256i mul1 = _mm256_set1_epi32(static_cast<int>(kPhiloxMul1));
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    __m256i hi0, lo0, hi1, lo1;
    philox_mul_hi_lo_x8(c0, mul0, &hi0, &lo0);
    philox_mul_hi_lo_x8(c2, mul1, &hi1, &lo1);
    const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
    k0 += kPhiloxWeyl0, k1 += kPhiloxWeyl1;
  }
  // Transpose word-major lanes (c_j[i] = word j of block i) to stream order.
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i b04 = _mm256_unpacklo_epi64(t0, t2), b15 = _mm256_unpackhi_epi64(t0, t2);  // blocks 0|4, 1|5
  const __m256i b26 = _mm256_unpacklo_epi64(t1, t3), b37 = _mm256_unpackhi_epi64(t1, t3);  // blocks 2|6, 3|7
  auto* dst = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(dst + 0, _mm256_permute2x128_si256(b04, b15, 0x20));
  _mm256_storeu_si256(dst + 1, _mm256_permute2x128_si256(b26, b37, 0x20));
  _mm256_storeu_si256(dst + 2, _mm256_permute2x128_si256(b04, b15, 0x31));
  _mm256_storeu_si256(dst + 3, _mm256_permute2x128_si256(b26, b37, 0x31));
}

inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#else
inline bool cpu_has_avx2() { return false; }
inline void philox4x32_10_x8(uint64_t, uint64_t, uint32_t*) {}
#endif

}  // namespace bert
