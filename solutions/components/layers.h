// layers.h — the two weight-holding primitives every block is made of: Linear and Embedding.
// Weights live behind shared_ptr so that one matrix can serve two roles (tied embeddings / LM head)
// without a copy. No bias terms: Llama has none.
#pragma once

#include <memory>

#include "llm/rng.h"
#include "llm/tensor.h"

namespace llm {

// y = x W^T. W is stored (out_features, in_features), like PyTorch's nn.Linear.
struct Linear {
  std::shared_ptr<Tensor> weight;  // (out, in)

  Linear() = default;
  explicit Linear(Tensor w) : weight(std::make_shared<Tensor>(std::move(w))) {}
  // N(0, std^2) initialisation drawn from rng, row by row.
  static Linear random(Index out_features, Index in_features, Rng& rng, float std);

  Index in_features() const { return weight->size(1); }
  Index out_features() const { return weight->size(0); }
  Tensor forward(const Tensor& x) const;  // (..., in) -> (..., out)
};

// Token embedding: a lookup of rows of a (vocab, hidden) table.
struct Embedding {
  std::shared_ptr<Tensor> weight;  // (V, C)

  Embedding() = default;
  explicit Embedding(Tensor w) : weight(std::make_shared<Tensor>(std::move(w))) {}
  static Embedding random(Index vocab, Index hidden, Rng& rng, float std);

  Index num_embeddings() const { return weight->size(0); }
  Index embedding_dim() const { return weight->size(1); }
  Tensor forward(const IdTensor& ids) const;  // (B, T) -> (B, T, C)
};

// Fill a tensor with N(0, std^2) draws from rng, in row-major order.
void fill_normal(Tensor& t, Rng& rng, float std);

}  // namespace llm
