#include "dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "philox.h"

namespace bert {

namespace {

constexpr int64_t kGrainBlocks = 4096;  // 16 Ki elements per task: big enough to amortise a task, small for balance

// Elements [base, base + count) of the stream: word j decides element base + j.
template <typename scalar_t>
inline void apply_words(const uint32_t* words, const scalar_t* x, scalar_t* y, bool* keep_mask, int64_t base,
                        int64_t count, uint64_t drop_below, scalar_t scale) {
  for (int64_t j = 0; j < count; ++j) {
    const bool keep = words[j] >= drop_below;  // P(word < drop_below) = drop_below / 2^32 = p
    keep_mask[base + j] = keep;
    y[base + j] = keep ? x[base + j] * scale : scalar_t(0);
  }
}

#if defined(__x86_64__)
// keep-mask bytes (0 or 1) for each 8-bit movemask: entry m holds byte i = bit i of m.
struct KeepBytesTable {
  uint64_t bytes[256];
  constexpr KeepBytesTable() : bytes() {
    for (int m = 0; m < 256; ++m) {
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>((m >> i) & 1) << (8 * i);
      bytes[m] = v;
    }
  }
};
constexpr KeepBytesTable kKeepBytes;

// fp32 elements [0, 32) of eight blocks starting at `block`: Philox, threshold, scale and mask in AVX2, the same
// words, decisions and products as the scalar path (keep ? x * scale : 0).
__attribute__((target("avx2"))) void dropout_chunk_f32_avx2(uint64_t block, uint64_t key, const float* x, float* y,
                                                            bool* keep_mask, uint32_t drop_below, float scale) {
  alignas(32) uint32_t words[32];
  philox4x32_10_x8(block, key, words);
  const __m256i sign =
      _mm256_set1_epi32(static_cast<int>(0x80000000u));  // unsigned compare via signed on flipped words
  const __m256i threshold = _mm256_set1_epi32(static_cast<int>(drop_below ^ 0x80000000u));
  const __m256 scale8 = _mm256_set1_ps(scale);
  for (int k = 0; k < 4; ++k) {
    const __m256i w = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(words + 8 * k)), sign);
    const __m256 drop = _mm256_castsi256_ps(_mm256_cmpgt_epi32(threshold, w));  // word < drop_below
    _mm256_storeu_ps(y + 8 * k, _mm256_andnot_ps(drop, _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), scale8)));
    const uint64_t bytes = kKeepBytes.bytes[~_mm256_movemask_ps(drop) & 0xFF];
    std::memcpy(keep_mask + 8 * k, &bytes, 8);
  }
}

// grad_in[i] = grad_out[i] * (keep[i] · scale) for i in [begin, end - (end - begin) % 8); returns where it stopped.
__attribute__((target("avx2"))) int64_t dropout_backward_f32_avx2(const float* grad_out, const bool* keep_mask,
                                                                  float* grad_in, int64_t begin, int64_t end,
                                                                  float scale) {
  const __m256 scale8 = _mm256_set1_ps(scale);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(keep_mask + i));
    const __m256 factor = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), scale8);  // 0 or scale
    _mm256_storeu_ps(grad_in + i, _mm256_mul_ps(_mm256_loadu_ps(grad_out + i), factor));
  }
  return i;
}
#endif

// One dropout call's draw: its Philox key and first counter block, the threshold and the scale.
template <typename scalar_t>
struct DropoutDraw {
  uint64_t key;
  uint64_t first_block;
  uint64_t drop_below;
  scalar_t scale;
  bool wide;  // AVX2 available
};

// x[0, count) are elements [first_element, first_element + count) of the call's stream: element e is decided by word
// e % 4 of counter block first_block + e / 4. Serial; eight blocks at a time in AVX2 where the span allows.
template <typename scalar_t>
void dropout_span(const scalar_t* x, scalar_t* y, bool* keep_mask, int64_t count, int64_t first_element,
                  const DropoutDraw<scalar_t>& d) {
  int64_t i = 0;
  while (i < count) {
    const int64_t e = first_element + i;
    const uint64_t block = d.first_block + static_cast<uint64_t>(e / 4);
    const int64_t word = e % 4;
#if defined(__x86_64__)
    if (d.wide && word == 0 && count - i >= 32) {  // eight blocks (32 elements) per call: the same words
      constexpr bool f32 = std::is_same<scalar_t, float>::value;
      if constexpr (f32) {
        if (d.drop_below <= 0xFFFFFFFFull) {
          dropout_chunk_f32_avx2(block, d.key, x + i, y + i, keep_mask + i, static_cast<uint32_t>(d.drop_below),
                                 d.scale);
          i += 32;
          continue;
        }
      }
      alignas(32) uint32_t words[32];
      philox4x32_10_x8(block, d.key, words);
      apply_words(words, x + i, y + i, keep_mask + i, 0, 32, d.drop_below, d.scale);
      i += 32;
      continue;
    }
#endif
    const auto words = philox4x32_10(block, 0, d.key);
    const int64_t n = std::min<int64_t>(4 - word, count - i);
    apply_words(words.data() + word, x + i, y + i, keep_mask + i, 0, n, d.drop_below, d.scale);
    i += n;
  }
}

// The whole tensor: element i is stream element i.
template <typename scalar_t>
void dropout_forward_kernel(const scalar_t* x, scalar_t* y, bool* keep_mask, int64_t n,
                            const DropoutDraw<scalar_t>& d) {
  const int64_t blocks = (n + 3) / 4;  // one Philox call gives 4 words: 4 elements
  at::parallel_for(0, blocks, kGrainBlocks, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * 4;
    dropout_span(x + first, y + first, keep_mask + first, std::min(end * 4, n) - first, first, d);
  });
}

// Rows of `row_length` elements, row r being stream elements [r · row_stride, r · row_stride + row_length).
template <typename scalar_t>
void dropout_rows_kernel(const scalar_t* x, scalar_t* y, bool* keep_mask, int64_t rows, int64_t row_length,
                         int64_t row_stride, const DropoutDraw<scalar_t>& d) {
  const int64_t grain_rows = std::max<int64_t>(1, kGrainBlocks * 4 / std::max<int64_t>(1, row_length));
  at::parallel_for(0, rows, grain_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t at = r * row_length;
      dropout_span(x + at, y + at, keep_mask + at, row_length, r * row_stride, d);
    }
  });
}

template <typename scalar_t>
void dropout_backward_kernel(const scalar_t* grad_out, const bool* keep_mask, scalar_t* grad_in, int64_t n,
                             scalar_t scale) {
  // grad · (0 or 1/(1-p)), as PyTorch's backward multiplies by its mask.
  const bool wide = cpu_has_avx2();
  at::parallel_for(0, n, kGrainBlocks * 4, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
#if defined(__x86_64__)
    if constexpr (std::is_same<scalar_t, float>::value) {
      if (wide) i = dropout_backward_f32_avx2(grad_out, keep_mask, grad_in, begin, end, scale);
    }
#endif
    for (; i < end; ++i) grad_in[i] = grad_out[i] * (static_cast<scalar_t>(keep_mask[i]) * scale);
  });
}

// torch.nn.Dropout scales kept values by a mask holding 1/(1-p) in the input's dtype (bernoulli_ then div_(1-p)),
// so the scale is computed in that dtype too: the kept values are bit-identical to PyTorch's.
template <typename scalar_t>
scalar_t keep_scale(double p) {
  return scalar_t(1) / static_cast<scalar_t>(1.0 - p);
}

// fp16 (autocast's on the CPU): PyTorch's div_ divides a half by the double 1-p in float, then rounds the quotient
// once; dividing two halves would round 1-p first (p = 0.3: 1.427734375 against PyTorch's 1.4287109375).
template <>
at::Half keep_scale<at::Half>(double p) {
  return static_cast<at::Half>(1.0f / static_cast<float>(1.0 - p));
}

struct PhiloxDropoutFunction : public torch::autograd::Function<PhiloxDropoutFunction> {
  // row_stride 0: the whole input. Otherwise the input's last dimension holds rows that sit every row_stride
  // elements in a larger tensor (see philox_dropout_rows).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, double p,
                            DropoutGenerator* generator, int64_t row_stride) {
    at::Tensor x = input.contiguous();
    at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
    at::Tensor keep = at::empty(x.sizes(), x.options().dtype(at::kBool));
    const int64_t n = x.numel();
    const int64_t row_length = x.dim() == 0 ? 1 : x.size(-1);
    const int64_t rows = row_length == 0 ? 0 : n / row_length;
    const int64_t stream_elements = row_stride == 0 ? n : rows * row_stride;
    const auto reservation = generator->reserve(static_cast<uint64_t>((stream_elements + 3) / 4));
    const uint64_t drop_below = static_cast<uint64_t>(std::llround(p * 4294967296.0));  // p · 2^32
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "philox_dropout", [&] {
      const DropoutDraw<scalar_t> draw{reservation.key, reservation.first_block, drop_below, keep_scale<scalar_t>(p),
                                       cpu_has_avx2()};
      if (row_stride == 0) {
        dropout_forward_kernel<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), keep.data_ptr<bool>(), n,
                                         draw);
      } else {
        dropout_rows_kernel<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), keep.data_ptr<bool>(), rows,
                                      row_length, row_stride, draw);
      }
    });
    ctx->save_for_backward({keep});
    ctx->saved_data["p"] = p;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor keep = ctx->get_saved_variables()[0];
    const double p = ctx->saved_data["p"].toDouble();
    at::Tensor grad = grad_outputs[0].contiguous();
    at::Tensor grad_in = at::empty_like(grad, at::MemoryFormat::Contiguous);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, grad.scalar_type(), "philox_dropout_backward", [&] {
      dropout_backward_kernel<scalar_t>(grad.data_ptr<scalar_t>(), keep.data_ptr<bool>(), grad_in.data_ptr<scalar_t>(),
                                        grad.numel(), keep_scale<scalar_t>(p));
    });
    return {grad_in, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor philox_dropout(const at::Tensor& x, double p, DropoutGenerator& generator) {
  return PhiloxDropoutFunction::apply(x, p, &generator, int64_t{0});
}

at::Tensor philox_dropout_rows(const at::Tensor& x, double p, DropoutGenerator& generator, int64_t row_stride) {
  const int64_t row_length = x.dim() == 0 ? 1 : x.size(-1);
  if (row_stride < row_length) {
    throw std::invalid_argument("philox_dropout_rows: row_stride " + std::to_string(row_stride) +
                                " is shorter than a row (" + std::to_string(row_length) + ")");
  }
  return PhiloxDropoutFunction::apply(x, p, &generator, row_stride == row_length ? int64_t{0} : row_stride);
}

at::Tensor DropoutImpl::forward(const at::Tensor& x) { return forward_rows(x, 0); }

at::Tensor DropoutImpl::forward_rows(const at::Tensor& x, int64_t row_stride) {
  if (!is_training() || p == 0.0) return x;
  const auto dtype = x.scalar_type();
  // Every floating dtype on the CPU, so that a CPU model's steps draw from no generator but this model's own
  // (rng_state.h). On a GPU: LibTorch's kernel and that device's generator, whose state rng_state.h saves too.
  if (!x.device().is_cpu() ||
      (dtype != at::kFloat && dtype != at::kDouble && dtype != at::kBFloat16 && dtype != at::kHalf)) {
    return at::dropout(x, p, /*train=*/true);
  }
  if (!generator) throw std::logic_error("Dropout used before bind_dropout_generator");
  return row_stride == 0 ? philox_dropout(x, p, *generator) : philox_dropout_rows(x, p, *generator, row_stride);
}

void bind_dropout_generator(torch::nn::Module& root, const std::shared_ptr<DropoutGenerator>& generator) {
  if (auto* self = root.as<DropoutImpl>()) self->generator = generator;
  for (const auto& module : root.modules(/*include_self=*/false)) {
    if (auto* dropout = module->as<DropoutImpl>()) dropout->generator = generator;
  }
}

std::shared_ptr<DropoutGenerator> new_dropout_generator() {
  // Reads the default generator's seed without drawing from it, so creating a model leaves the stream that weight
  // initialisation draws from untouched; the construction count keeps models created under one seed apart.
  static std::atomic<uint64_t> constructed{0};
  uint64_t seed = at::detail::getDefaultCPUGenerator().current_seed() + 0x9E3779B97F4A7C15ull * ++constructed;
  seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;  // splitmix64's finaliser: nearby inputs, unrelated keys
  seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBull;
  return std::make_shared<DropoutGenerator>(seed ^ (seed >> 31));
}

}  // namespace bert
