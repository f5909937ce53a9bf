// mlp.h — lesson 03's contract, part 1: the gated feed-forward block of modern LLMs,
//   down( act(gate(x)) * up(x) ),
// SwiGLU with act = SiLU (Llama, Qwen), GeGLU with act = GELU (Gemma); the config's hidden_act picks.
// Three projections where the original Transformer had two: the gate decides, per inner unit, how much
// of up(x) passes. Not here: biases, dropout, mixture-of-experts routing, the tanh approximation of GELU.
//
// Dimension legend (docs/dimensions.md): C hidden_size, F intermediate_size; "..." leading dimensions.
#pragma once

#include "llm/config.h"
#include "llm/linear.h"
#include "llm/tensor.h"

namespace llm {

// SiLU (swish): x * sigmoid(x) = x / (1 + e^-x). Finite for every finite x: tends to 0 as x -> -inf.
float silu(float x);
// GELU, the exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
float gelu(float x);
// The activation applied elementwise; the shape is kept. InvalidArgument naming the value when act is
// neither kSiLU nor kGELU.
Tensor activate(Tensor x, Activation act);

struct MLP {
  Linear gate_proj;  // (F, C)  llama2.c's w1
  Linear up_proj;    // (F, C)  llama2.c's w3
  Linear down_proj;  // (C, F)  llama2.c's w2
  Activation act = Activation::kSiLU;  // the config's hidden_act

  MLP() = default;
  // Given: projections drawn N(0, initializer_range^2) in the order gate, up, down.
  MLP(const ModelConfig& config, Rng& rng);
  // Given: from existing weights (a loaded checkpoint), nothing drawn. ShapeError naming the projection
  // unless gate and up are (F, C) and down (C, F).
  MLP(const ModelConfig& config, Linear gate, Linear up, Linear down);

  Tensor forward(const Tensor& x) const;  // (..., C) -> (..., C)
};

}  // namespace llm
