// embedding.cpp — YOUR lesson 01 work, exercise 2: embedding lookup and the sinusoidal encoding.
// The reference is solutions/lesson01_tokenizer_embedding/embedding.cpp — try before you look.
//
// Legend: B batch, T tokens, V vocab_size, C hidden_size, P positions.
#include "embedding.h"

#include "llm/errors.h"

namespace llm {

Tensor Embedding::forward(const IdTensor& ids) const {
  // TODO(step 4): (B, T) ids -> (B, T, C): copy weight row ids[b][t]; refuse ids outside [0, V).
  (void)ids;
  throw NotImplemented("lesson01 step 4: embedding lookup (one table row per id)");
}

Tensor sinusoidal_positional_encoding(Index positions, Index dim, float base) {
  // TODO(step 5): (P, C): pe[pos][2i] = sin(pos / base^(2i/C)), pe[pos][2i+1] = cos(same angle).
  (void)positions, (void)dim, (void)base;
  throw NotImplemented("lesson01 step 5: the sinusoidal positional encoding table");
}

}  // namespace llm
