// mlp.cpp — YOUR lesson 03 work, exercise 1: the activations and the gated feed-forward block.
// Each TODO is a step of README.md; each throws until you write it.
// The reference lives in solutions/lesson03_feedforward_transformer/mlp.cpp — try before you look.
//
// Legend: C hidden_size, F intermediate_size; "..." any leading dimensions.
#include "mlp.h"

#include <cmath>

#include "llm/errors.h"
#include "llm/ops.h"

namespace llm {

// Exercise 1 — the feed-forward block

float silu(float x) {
  // TODO(step 1): x * sigmoid(x) = x / (1 + e^-x). Check the two ends: for x = -1000, e^1000 is inf
  //   in float and x / inf = -0 (the right limit); forms like e^x / (1 + e^x) * x give inf / inf = NaN
  //   for a large positive x.
  (void)x;
  throw NotImplemented("lesson03 step 1: SiLU");
}

float gelu(float x) {
  // TODO(step 1): the exact form, x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))) with std::erf — not the
  //   tanh approximation. gelu(1) = 0.8413447.
  (void)x;
  throw NotImplemented("lesson03 step 1: GELU");
}

Tensor activate(Tensor x, Activation act) {
  // TODO(step 2): x arrives by value: overwrite every element (x.flat()) with silu or gelu, as act
  //   says, and return x — the shape is kept. A value that is neither kSiLU nor kGELU is an
  //   InvalidArgument naming it (fail<InvalidArgument>(...)).
  (void)x, (void)act;
  throw NotImplemented("lesson03 step 2: apply the config's activation");
}

Tensor MLP::forward(const Tensor& x) const {
  // TODO(step 3): (..., C) -> (..., C) in three lines:
  //   gate = activate(gate_proj.forward(x), act)     (..., F)  the activation goes on the gate only
  //   hidden = mul(gate, up_proj.forward(x))          (..., F)  elementwise
  //   return down_proj.forward(hidden)                (..., C)
  (void)x;
  throw NotImplemented("lesson03 step 3: the gated MLP (SwiGLU / GeGLU)");
}

}  // namespace llm
