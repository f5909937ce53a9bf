// rope.cpp — the RoPE table and rotation.
#include "rope.h"

#include <cmath>

namespace llm {

// Runs before any member is built, so bad arguments are named here, not as a tensor-shape error.
static Index checked_head_dim(Index head_dim, Index max_positions, float theta) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    fail<InvalidArgument>("RoPE head_dim = ", head_dim, " must be even and > 0");
  if (max_positions <= 0) fail<InvalidArgument>("RoPE max_positions = ", max_positions, " must be > 0");
  if (!(theta > 0.0f) || !std::isfinite(theta))
    fail<InvalidArgument>("RoPE theta = ", theta, " must be finite and > 0");
  return head_dim;
}

RotaryEmbedding::RotaryEmbedding(Index head_dim, Index max_positions, float theta, RopeConvention convention)
    : head_dim_(checked_head_dim(head_dim, max_positions, theta)),
      max_positions_(max_positions),
      convention_(convention),
      cos_(Shape{max_positions, head_dim / 2}),
      sin_(Shape{max_positions, head_dim / 2}) {
  // Computed in double, then rounded: the table is built once, so accuracy is free here.
  for (Index pos = 0; pos < max_positions; ++pos)
    for (Index i = 0; i < head_dim / 2; ++i) {
      const double freq = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) /
                                                                  static_cast<double>(head_dim));
      const double angle = static_cast<double>(pos) * freq;
      cos_(pos, i) = static_cast<float>(std::cos(angle));
      sin_(pos, i) = static_cast<float>(std::sin(angle));
    }
}

void RotaryEmbedding::rotate(std::span<float> head, Index pos) const {
  if (pos < 0 || pos >= max_positions_)
    fail<InvalidArgument>("position ", pos, " is out of range [0, ", max_positions_,
                          ") of the RoPE table (max_position_embeddings)");
  const Index half = head_dim_ / 2;
  const float* c = cos_.row(pos).data();
  const float* s = sin_.row(pos).data();
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

void RotaryEmbedding::apply(Tensor& x, const IdTensor& positions, Index n_heads) const {
  const Index B = x.size(0), T = x.size(1);
  if (x.size(2) != n_heads * head_dim_)
    fail<ShapeError>("RoPE input ", x.shape().str(), " does not hold ", n_heads, " heads of ", head_dim_);
  if (!(positions.shape() == Shape{B, T}))
    fail<ShapeError>("position_ids has shape ", positions.shape().str(), ", expected (", B, ", ", T, ")");
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      std::span<float> row = x.row(b, t);
      for (Index h = 0; h < n_heads; ++h)
        rotate(row.subspan(static_cast<size_t>(h * head_dim_), static_cast<size_t>(head_dim_)), positions(b, t));
    }
}

}  // namespace llm
