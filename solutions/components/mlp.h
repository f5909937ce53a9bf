// mlp.h — Llama's SwiGLU feed-forward block: down(silu(gate(x)) * up(x)). No GeGLU variant here.
#pragma once

#include "layers.h"
#include "llm/config.h"

namespace llm {

struct MLP {
  Linear gate_proj;  // (F, C)  llama2.c's w1
  Linear up_proj;    // (F, C)  llama2.c's w3
  Linear down_proj;  // (C, F)  llama2.c's w2

  MLP() = default;
  MLP(const ModelConfig& config, Rng& rng);

  Tensor forward(const Tensor& x) const;  // (..., C) -> (..., C)
};

}  // namespace llm
