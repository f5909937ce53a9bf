// rms_norm.h — RMSNorm, Llama's normalisation: x / sqrt(mean(x^2) + eps) * weight. No mean
// subtraction and no bias, unlike LayerNorm.
#pragma once

#include "llm/tensor.h"

namespace llm {

struct RMSNorm {
  Tensor weight;  // (C,), initialised to ones
  float eps = 1e-6f;

  RMSNorm() = default;
  RMSNorm(Index hidden, float eps_) : weight(Shape{hidden}, 1.0f), eps(eps_) {}

  Tensor forward(const Tensor& x) const;  // (..., C) -> (..., C)
};

}  // namespace llm
