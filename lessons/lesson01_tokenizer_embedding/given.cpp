// given.cpp — lesson 01, given: the random initialisation of an embedding table and RoPE's apply(),
// which only walks the heads and calls your rotate().
#include <cmath>

#include "embedding.h"
#include "llm/errors.h"
#include "llm/linear.h"
#include "rope.h"

namespace llm {

Embedding Embedding::random(Index vocab, Index hidden, Rng& rng, float std) {
  Tensor w(Shape{vocab, hidden});
  fill_normal(w, rng, std);
  return Embedding(std::move(w));
}

void check_rope_arguments(Index head_dim, Index max_positions, float theta) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    fail<InvalidArgument>("RoPE head_dim = ", head_dim, " must be even and > 0");
  if (max_positions <= 0) fail<InvalidArgument>("RoPE max_positions = ", max_positions, " must be > 0");
  if (!(theta > 0.0f) || !std::isfinite(theta))
    fail<InvalidArgument>("RoPE theta = ", theta, " must be finite and > 0");
}

void RotaryEmbedding::apply(Tensor& x, const IdTensor& positions, Index n_heads) const {
  if (x.rank() != 3) fail<ShapeError>("RoPE input must be (B, T, heads * head_dim), got ", x.shape().str());
  const Index B = x.size(0), T = x.size(1);
  if (x.size(2) != n_heads * head_dim_)
    fail<ShapeError>("RoPE input ", x.shape().str(), " does not hold ", n_heads, " heads of ", head_dim_);
  if (!(positions.shape() == Shape{B, T}))
    fail<ShapeError>("position_ids has shape ", positions.shape().str(), ", expected (", B, ", ", T, ")");
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      std::span<float> row = x.row(b, t);  // (heads * D): head h is [h * D, (h + 1) * D)
      for (Index h = 0; h < n_heads; ++h)
        rotate(row.subspan(static_cast<size_t>(h * head_dim_), static_cast<size_t>(head_dim_)), positions(b, t));
    }
}

}  // namespace llm
