// norm.h — lesson 02's contract, part 1: the two normalisations over the last (hidden) dimension.
//   LayerNorm (original Transformer, GPT-2): (x - mean) / sqrt(var + eps) * weight + bias, where var is
//             the *biased* variance mean((x - mean)^2) — divided by C, not C - 1.
//   RMSNorm   (Llama, Qwen, Gemma):          x / sqrt(mean(x^2) + eps) * weight. No mean subtraction,
//             no bias: cheaper, and it works as well in practice.
// Not here: fused residual-add + norm, Gemma's (1 + weight) scaling, norms in fp16.
//
// Dimension legend (docs/dimensions.md): C hidden_size; "..." any leading dimensions.
#pragma once

#include "llm/tensor.h"

namespace llm {

struct RMSNorm {
  Tensor weight;  // (C,), initialised to ones
  float eps = 1e-6f;

  RMSNorm() = default;
  RMSNorm(Index hidden, float eps_) : weight(Shape{hidden}, 1.0f), eps(eps_) {}

  // (..., C) -> (..., C). ShapeError when the last dimension is not weight's size.
  Tensor forward(const Tensor& x) const;
};

struct LayerNorm {
  Tensor weight;  // (C,), initialised to ones
  Tensor bias;    // (C,), initialised to zeros
  float eps = 1e-5f;

  LayerNorm() = default;
  LayerNorm(Index hidden, float eps_) : weight(Shape{hidden}, 1.0f), bias(Shape{hidden}, 0.0f), eps(eps_) {}

  // (..., C) -> (..., C). ShapeError when the last dimension is not weight's size.
  Tensor forward(const Tensor& x) const;
};

}  // namespace llm
