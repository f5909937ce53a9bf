// embedding.cpp — YOUR lesson 01 work, exercise 2: the embedding lookup and the sinusoidal encoding
// (steps 4-5). Each TODO is a step of README.md; each throws until you write it.
// The reference is solutions/lesson01_tokenizer_embedding/embedding.cpp — try before you look.
//
// Legend: B batch, T tokens, V vocab_size, C hidden_size, P positions.
#include "embedding.h"

#include "llm/errors.h"

namespace llm {

Tensor Embedding::forward(const IdTensor& ids) const {
  // TODO(step 4): (B, T) ids -> (B, T, C).
  //   - ids must have rank 2 (ShapeError otherwise).
  //   - For every (b, t): id = ids(b, t); an id outside [0, V) is an InvalidArgument whose message
  //     names the id, its place (b, t) and V (fail<InvalidArgument>(...) builds it).
  //   - Copy row id of *weight (weight->row(id), C floats) into out.row(b, t).
  (void)ids;
  throw NotImplemented("lesson01 step 4: embedding lookup (one table row per id)");
}

Tensor sinusoidal_positional_encoding(Index positions, Index dim, float base) {
  // TODO(step 5): the (P, C) table, with C = dim.
  //   - InvalidArgument naming the value when positions <= 0, dim is odd or <= 0, or base is not
  //     finite and > 1 (write the base check so that NaN fails it too).
  //   - For pos in [0, P) and pair i in [0, C/2): angle = pos * base^(-2i/C), in double;
  //     pe(pos, 2i) = sin(angle), pe(pos, 2i + 1) = cos(angle).
  (void)positions, (void)dim, (void)base;
  throw NotImplemented("lesson01 step 5: the sinusoidal positional encoding table");
}

}  // namespace llm
