// linear.cpp — Linear and the normal initialisation.
#include "llm/linear.h"

#include "llm/errors.h"
#include "llm/ops.h"

namespace llm {

void fill_normal(Tensor& t, Rng& rng, float std) {
  for (float& v : t.flat()) v = std * rng.normal();
}

Linear Linear::random(Index out_features, Index in_features, Rng& rng, float std) {
  Tensor w(Shape{out_features, in_features});
  fill_normal(w, rng, std);
  return Linear(std::move(w));
}

Tensor Linear::forward(const Tensor& x) const {
  if (!weight) fail<InvalidArgument>("Linear::forward on a Linear without a weight (default-constructed)");
  return linear(x, *weight);
}


}  // namespace llm
