// mlp.cpp — lesson 03 reference, steps 1 to 3: SiLU and GELU, and the gated feed-forward block.
#include "mlp.h"

#include <cmath>

#include "llm/eigen_view.h"
#include "llm/errors.h"
#include "llm/ops.h"

namespace llm {

// Step 1. For x -> -inf, e^-x -> inf and the quotient -> -0: never NaN.
float silu(float x) { return x / (1.0f + std::exp(-x)); }

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f))); }

// Step 2. SiLU runs on every gate value of every token (F per token), so it is the one activation
// written with Eigen's vectorised exp over the whole tensor; GELU stays a plain loop.
Tensor activate(Tensor x, Activation act) {
  switch (act) {
    case Activation::kSiLU: {
      MatrixMap m = as_matrix(x);
      m.array() = m.array() / (1.0f + (-m.array()).exp());
      return x;
    }
    case Activation::kGELU:
      for (float& v : x.flat()) v = gelu(v);
      return x;
  }
  fail<InvalidArgument>("activation ", static_cast<int>(act), " is neither silu nor gelu");
}

// Step 3.
Tensor MLP::forward(const Tensor& x) const {
  Tensor gate = activate(gate_proj.forward(x), act);           // (..., F)
  Tensor hidden = mul(std::move(gate), up_proj.forward(x));    // (..., F) the gated product
  return down_proj.forward(hidden);                            // (..., C)
}

}  // namespace llm
