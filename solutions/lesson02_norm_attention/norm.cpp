// norm.cpp — lesson 02 reference, steps 1 and 2: RMSNorm and LayerNorm, one row of C at a time.
#include "norm.h"

#include <cmath>

#include "llm/eigen_view.h"
#include "llm/errors.h"

namespace llm {

static void check_norm_input(const Tensor& x, const Tensor& weight, const char* what) {
  if (weight.rank() != 1 || x.rank() < 1 || x.size(x.rank() - 1) != weight.size(0))
    fail<ShapeError>(what, ": input ", x.shape().str(), " and weight ", weight.shape().str(),
                     " disagree on the hidden size");
}

// Step 1.
Tensor RMSNorm::forward(const Tensor& x) const {
  check_norm_input(x, weight, "RMSNorm");
  Tensor y = x;
  MatrixMap ym = as_matrix(y);  // (rows, C)
  const ConstVectorMap w = as_vector(weight.flat());
  for (Index r = 0; r < ym.rows(); ++r) {
    const float mean_square = ym.row(r).squaredNorm() / static_cast<float>(ym.cols());
    const float inv_rms = 1.0f / std::sqrt(mean_square + eps);
    ym.row(r) = (ym.row(r).array() * inv_rms * w.transpose().array()).matrix();
  }
  return y;
}

// Step 2.
Tensor LayerNorm::forward(const Tensor& x) const {
  check_norm_input(x, weight, "LayerNorm");
  if (!(bias.shape() == weight.shape()))
    fail<ShapeError>("LayerNorm: bias ", bias.shape().str(), " and weight ", weight.shape().str(), " differ");
  Tensor y = x;
  MatrixMap ym = as_matrix(y);  // (rows, C)
  const ConstVectorMap w = as_vector(weight.flat());
  const ConstVectorMap bvec = as_vector(bias.flat());
  for (Index r = 0; r < ym.rows(); ++r) {
    const float mean = ym.row(r).mean();
    ym.row(r).array() -= mean;
    // Biased variance (divide by C): the statistic of this row, not an estimate of a population's.
    const float var = ym.row(r).squaredNorm() / static_cast<float>(ym.cols());
    const float inv_std = 1.0f / std::sqrt(var + eps);
    ym.row(r) = (ym.row(r).array() * inv_std * w.transpose().array() + bvec.transpose().array()).matrix();
  }
  return y;
}

}  // namespace llm
