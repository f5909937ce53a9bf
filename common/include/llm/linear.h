// linear.h — Linear, the weight-holding primitive every block is made of (PyTorch's nn.Linear without
// a bias: Llama has none), and the N(0, std^2) initialisation. Given, like nn.Linear: no lesson asks for
// it. The weight lives behind shared_ptr so one matrix can serve two roles (tied embedding / LM head).
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


// Fill a tensor with N(0, std^2) draws from rng, in row-major order.
void fill_normal(Tensor& t, Rng& rng, float std);

}  // namespace llm
