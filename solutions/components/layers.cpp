// layers.cpp — Linear and Embedding.
#include "layers.h"

#include "llm/ops.h"

namespace llm {

void fill_normal(Tensor& t, Rng& rng, float std) {
  for (float& v : t.flat()) v = std * rng.normal();
}

Linear Linear::random(Index out_features, Index in_features, Rng& rng, float std) {
  Tensor w(Shape{out_features, in_features});
  fill_normal(w, rng, std);
  return Linear(std::move(w));
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, *weight); }

Embedding Embedding::random(Index vocab, Index hidden, Rng& rng, float std) {
  Tensor w(Shape{vocab, hidden});
  fill_normal(w, rng, std);
  return Embedding(std::move(w));
}

Tensor Embedding::forward(const IdTensor& ids) const { return embedding(ids, *weight); }

}  // namespace llm
