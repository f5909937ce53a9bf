// rope.cpp — lesson 01 reference, steps 6 to 9: RoPE's frequencies, its table, the rotation in both
// conventions (and past the table), and the permutation that relates the conventions.
#include "rope.h"

#include <cmath>

#include "llm/errors.h"

namespace llm {

// Step 6.
std::vector<double> rope_inverse_frequencies(Index head_dim, float theta) {
  check_rope_arguments(head_dim, 1, theta);
  std::vector<double> inv_freq(static_cast<size_t>(head_dim / 2));
  for (Index i = 0; i < head_dim / 2; ++i)
    inv_freq[static_cast<size_t>(i)] =
        std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  return inv_freq;
}

// Step 7. Arguments are checked first (inside the initialisers), so a bad head_dim is named as
// such instead of surfacing as a tensor-shape error.
RotaryEmbedding::RotaryEmbedding(Index head_dim, Index max_positions, float theta, RopeConvention convention)
    : head_dim_((check_rope_arguments(head_dim, max_positions, theta), head_dim)),
      max_positions_(max_positions),
      theta_(theta),
      convention_(convention),
      inv_freq_(rope_inverse_frequencies(head_dim, theta)),
      cos_(Shape{max_positions, head_dim / 2}),
      sin_(Shape{max_positions, head_dim / 2}) {
  // Angles in double, then rounded: the table is built once, so accuracy is free here, and rotate()
  // past the table computes the very same values.
  for (Index pos = 0; pos < max_positions; ++pos)
    for (Index i = 0; i < head_dim / 2; ++i) {
      const double angle = static_cast<double>(pos) * inv_freq_[static_cast<size_t>(i)];
      cos_(pos, i) = static_cast<float>(std::cos(angle));
      sin_(pos, i) = static_cast<float>(std::sin(angle));
    }
}

// Step 8.
void RotaryEmbedding::rotate(std::span<float> head, Index pos) const {
  if (pos < 0) fail<InvalidArgument>("RoPE position ", pos, " must be >= 0");
  if (static_cast<Index>(head.size()) != head_dim_)
    fail<ShapeError>("RoPE head has ", head.size(), " values, expected head_dim = ", head_dim_);
  const Index half = head_dim_ / 2;
  // Inside the table: read it. Past it: compute this position's row, exactly as the table would.
  std::vector<float> c_far, s_far;
  const float* c = nullptr;
  const float* s = nullptr;
  if (pos < max_positions_) {
    c = cos_.row(pos).data();
    s = sin_.row(pos).data();
  } else {
    c_far.resize(static_cast<size_t>(half));
    s_far.resize(static_cast<size_t>(half));
    for (Index i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos) * inv_freq_[static_cast<size_t>(i)];
      c_far[static_cast<size_t>(i)] = static_cast<float>(std::cos(angle));
      s_far[static_cast<size_t>(i)] = static_cast<float>(std::sin(angle));
    }
    c = c_far.data();
    s = s_far.data();
  }
  // Pair i is (a, b) = (x[2i], x[2i+1]) or (x[i], x[i+half]); both rotate by the same angle:
  // (a, b) -> (a cos - b sin, a sin + b cos).
  const Index stride = convention_ == RopeConvention::kAdjacentPairs ? 2 : 1;
  const Index partner = convention_ == RopeConvention::kAdjacentPairs ? 1 : half;
  for (Index i = 0; i < half; ++i) {
    float& a = head[static_cast<size_t>(i * stride)];
    float& b = head[static_cast<size_t>(i * stride + partner)];
    const float a0 = a, b0 = b;
    a = a0 * c[i] - b0 * s[i];
    b = a0 * s[i] + b0 * c[i];
  }
}

// Step 9.
std::vector<float> adjacent_to_half_split(std::span<const float> head) {
  if (head.empty() || head.size() % 2 != 0)
    fail<InvalidArgument>("adjacent_to_half_split: a head of ", head.size(), " values must be even and > 0");
  const size_t half = head.size() / 2;
  std::vector<float> out(head.size());
  for (size_t i = 0; i < half; ++i) {
    out[i] = head[2 * i];             // first of pair i
    out[i + half] = head[2 * i + 1];  // its partner
  }
  return out;
}

}  // namespace llm
