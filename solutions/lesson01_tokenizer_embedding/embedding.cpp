// embedding.cpp — lesson 01 reference, steps 4 and 5: embedding lookup and the sinusoidal table.
#include "embedding.h"

#include <algorithm>
#include <cmath>

#include "llm/errors.h"

namespace llm {

// Step 4: a lookup is a row copy; the only thing to get right is refusing ids outside the table.
Tensor Embedding::forward(const IdTensor& ids) const {
  if (ids.rank() != 2) fail<ShapeError>("embedding ids must be (B, T), got ", ids.shape().str());
  if (!weight) fail<InvalidArgument>("Embedding::forward on an Embedding without a table (default-constructed)");
  const Index V = num_embeddings(), C = embedding_dim();
  Tensor out(Shape{ids.size(0), ids.size(1), C});  // (B, T, C)
  for (Index b = 0; b < ids.size(0); ++b)
    for (Index t = 0; t < ids.size(1); ++t) {
      const Index id = ids(b, t);
      if (id < 0 || id >= V)
        fail<InvalidArgument>("token id ", id, " at (", b, ", ", t, ") is out of range [0, ", V,
                              ") of the vocabulary");
      std::span<const float> src = weight->row(id);  // (C)
      std::copy(src.begin(), src.end(), out.row(b, t).begin());
    }
  return out;
}

// Step 5.
Tensor sinusoidal_positional_encoding(Index positions, Index dim, float base) {
  if (positions <= 0) fail<InvalidArgument>("sinusoidal encoding: positions = ", positions, " must be > 0");
  if (dim <= 0 || dim % 2 != 0)
    fail<InvalidArgument>("sinusoidal encoding: dim = ", dim, " must be even and > 0 (sin/cos pairs)");
  if (!(base > 1.0f) || !std::isfinite(base))
    fail<InvalidArgument>("sinusoidal encoding: base = ", base, " must be finite and > 1");
  Tensor pe(Shape{positions, dim});  // (P, C)
  for (Index pos = 0; pos < positions; ++pos)
    for (Index i = 0; i < dim / 2; ++i) {
      // Pair i turns at frequency base^(-2i/C): from one radian per position (i = 0) down to about
      // 1/base, so nearby positions differ in the fast pairs and far ones in the slow pairs.
      const double angle = static_cast<double>(pos) *
                           std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(dim));
      pe(pos, 2 * i) = static_cast<float>(std::sin(angle));
      pe(pos, 2 * i + 1) = static_cast<float>(std::cos(angle));
    }
  return pe;
}

}  // namespace llm
