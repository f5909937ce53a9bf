// mlp.cpp — YOUR lesson 03 work, exercise 1: the activations and the gated feed-forward block.
// The reference is solutions/lesson03_feedforward_transformer/mlp.cpp — try before you look.
//
// Legend: C hidden_size, F intermediate_size.
#include "mlp.h"

#include "llm/errors.h"

namespace llm {

float silu(float x) {
  // TODO(step 1): x * sigmoid(x), written so that a large negative x gives 0, not NaN.
  (void)x;
  throw NotImplemented("lesson03 step 1: SiLU");
}

float gelu(float x) {
  // TODO(step 1): 0.5 x (1 + erf(x / sqrt(2))).
  (void)x;
  throw NotImplemented("lesson03 step 1: GELU");
}

Tensor activate(Tensor x, Activation act) {
  // TODO(step 2): apply silu or gelu to every element, as act says.
  (void)x, (void)act;
  throw NotImplemented("lesson03 step 2: apply the config's activation");
}

Tensor MLP::forward(const Tensor& x) const {
  // TODO(step 3): down_proj(activate(gate_proj(x), act) * up_proj(x)).
  (void)x;
  throw NotImplemented("lesson03 step 3: the gated MLP (SwiGLU / GeGLU)");
}

}  // namespace llm
