// mlp.cpp — SwiGLU.
#include "mlp.h"

#include "llm/ops.h"

namespace llm {

MLP::MLP(const ModelConfig& config, Rng& rng) {
  const float std = config.initializer_range;
  gate_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  up_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  down_proj = Linear::random(config.hidden_size, config.intermediate_size, rng, std);
}

Tensor MLP::forward(const Tensor& x) const {
  Tensor gate = silu(gate_proj.forward(x));     // (..., F)
  Tensor hidden = mul(std::move(gate), up_proj.forward(x));  // (..., F) the gated product
  return down_proj.forward(hidden);             // (..., C)
}

}  // namespace llm
