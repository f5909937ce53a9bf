// rms_norm.cpp — RMSNorm on top of the shared op.
#include "rms_norm.h"

#include "llm/ops.h"

namespace llm {

Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, weight, eps); }

}  // namespace llm
