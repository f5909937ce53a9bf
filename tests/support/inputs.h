// inputs.h — the seeded inputs the test suites and the probe programs of `./llm compare` both build:
// N(0, scale^2) tensors from a fixed seed, the additive causal mask, position ids, token slices and
// lesson 04's deterministic prompts. One copy, so a probe and a test case given the same seed see the
// same numbers. Header-only and free of doctest (the probe programs do not link it).
//
// Legend: B batch, T new tokens, P cached positions, X any last dimension.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "llm/linear.h"
#include "llm/rng.h"
#include "llm/tensor.h"

namespace llm::testing {

// A tensor of N(0, scale^2) draws from `rng`, in row-major order (llm::fill_normal).
inline Tensor random_tensor(const Shape& shape, Rng& rng, float scale = 1.0f) {
  Tensor t(shape);
  fill_normal(t, rng, scale);
  return t;
}

// The same from a fresh llm::Rng(seed).
inline Tensor seeded(const Shape& shape, std::uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  return random_tensor(shape, rng, scale);
}

// The additive causal mask of attention.h, (B, T, P + T): new token t sits at absolute position P + t
// and sees keys j <= P + t (0); later keys are -inf.
inline Tensor causal_mask(Index B, Index T, Index P = 0) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  Tensor mask(Shape{B, T, P + T});  // (B, T, P + T)
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t)
      for (Index j = 0; j < P + T; ++j) mask(b, t, j) = j <= P + t ? 0.0f : -kInf;
  return mask;
}

// Position ids start .. start + T - 1 in every row, (B, T).
inline IdTensor positions(Index B, Index T, Index start = 0) {
  IdTensor pos(Shape{B, T});  // (B, T)
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) pos(b, t) = static_cast<std::int32_t>(start + t);
  return pos;
}

// Tokens [from, to) of a (B, T, X) tensor, as (B, to - from, X).
inline Tensor tokens(const Tensor& x, Index from, Index to) {
  const Index B = x.size(0), X = x.size(2);
  Tensor out(Shape{B, to - from, X});  // (B, to - from, X)
  for (Index b = 0; b < B; ++b)
    for (Index t = from; t < to; ++t) std::copy_n(x.row(b, t).data(), X, out.row(b, t - from).data());
  return out;
}

// A deterministic (B, T) batch of ids: row b is b*7 + 3t + 1 + offset, wrapped into the vocabulary.
inline IdTensor sample_ids(Index batch, Index len, int vocab, int offset = 0) {
  IdTensor ids(Shape{batch, len});
  for (Index b = 0; b < batch; ++b)
    for (Index t = 0; t < len; ++t) ids(b, t) = static_cast<std::int32_t>((b * 7 + 3 * t + 1 + offset) % vocab);
  return ids;
}

}  // namespace llm::testing
