// rope.cpp — YOUR lesson 01 work, exercise 3: rotary position embedding in both conventions.
// The reference is solutions/lesson01_tokenizer_embedding/rope.cpp — try before you look.
//
// Legend: D head_dim (D/2 rotated pairs).
#include "rope.h"

#include "llm/errors.h"

namespace llm {

std::vector<double> rope_inverse_frequencies(Index head_dim, float theta) {
  // TODO(step 6): theta^(-2i/D) for i in [0, D/2), in double. check_rope_arguments first.
  (void)head_dim, (void)theta;
  throw NotImplemented("lesson01 step 6: RoPE inverse frequencies theta^(-2i/D)");
}

RotaryEmbedding::RotaryEmbedding(Index head_dim, Index max_positions, float theta, RopeConvention convention) {
  // TODO(step 7): check_rope_arguments, store the fields, then fill cos_/sin_ (max_positions, D/2)
  //   with cos/sin of pos * inv_freq[i].
  (void)head_dim, (void)max_positions, (void)theta, (void)convention;
  throw NotImplemented("lesson01 step 7: build the RoPE cos/sin table");
}

void RotaryEmbedding::rotate(std::span<float> head, Index pos) const {
  // TODO(step 8): rotate each pair (a, b) -> (a cos - b sin, a sin + b cos); the pairs are
  //   (x[2i], x[2i+1]) or (x[i], x[i + D/2]) by convention_. Past the table, compute cos/sin directly.
  (void)head, (void)pos;
  throw NotImplemented("lesson01 step 8: rotate a head (both conventions, positions past the table)");
}

std::vector<float> adjacent_to_half_split(std::span<const float> head) {
  // TODO(step 9): out[i] = head[2i], out[i + D/2] = head[2i + 1].
  (void)head;
  throw NotImplemented("lesson01 step 9: the permutation from adjacent pairs to half-split");
}

}  // namespace llm
