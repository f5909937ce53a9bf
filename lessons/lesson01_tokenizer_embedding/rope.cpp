// rope.cpp — YOUR lesson 01 work, exercise 3: rotary position embedding in both conventions
// (steps 6-9). Each TODO is a step of README.md; each throws until you write it.
// The reference is solutions/lesson01_tokenizer_embedding/rope.cpp — try before you look.
//
// Legend: D head_dim (D/2 rotated pairs), P max_positions.
#include "rope.h"

#include "llm/errors.h"

namespace llm {

std::vector<double> rope_inverse_frequencies(Index head_dim, float theta) {
  // TODO(step 6): check_rope_arguments(head_dim, 1, theta) first; then D/2 values,
  //   inv_freq[i] = theta^(-2i/D), computed in double (std::pow on doubles).
  (void)head_dim, (void)theta;
  throw NotImplemented("lesson01 step 6: RoPE inverse frequencies theta^(-2i/D)");
}

RotaryEmbedding::RotaryEmbedding(Index head_dim, Index max_positions, float theta,
                                 RopeConvention convention) {
  // TODO(step 7): check_rope_arguments(head_dim, max_positions, theta) before anything else; store
  //   head_dim_, max_positions_, theta_, convention_ and inv_freq_ (step 6); then make cos_ and sin_
  //   (P, D/2) tensors with cos_(pos, i) = cos(pos * inv_freq_[i]), sin_(pos, i) = sin(the same angle),
  //   the angle in double.
  (void)head_dim, (void)max_positions, (void)theta, (void)convention;
  throw NotImplemented("lesson01 step 7: build the RoPE cos/sin table");
}

void RotaryEmbedding::rotate(std::span<float> head, Index pos) const {
  // TODO(step 8): rotate one head (D floats) in place by position pos.
  //   - pos < 0: InvalidArgument naming pos. head.size() != D: ShapeError naming the size.
  //   - cos/sin of pair i: row pos of the table when pos < max_positions_; otherwise compute
  //     cos/sin(pos * inv_freq_[i]) here, exactly as the constructor does (the table is only a cache).
  //   - Pair i is (a, b) = (head[2i], head[2i + 1]) for kAdjacentPairs, (head[i], head[i + D/2]) for
  //     kHalfSplit; both become (a cos - b sin, a sin + b cos). Keep the old a while computing b.
  (void)head, (void)pos;
  throw NotImplemented("lesson01 step 8: rotate a head (both conventions, positions past the table)");
}

std::vector<float> adjacent_to_half_split(std::span<const float> head) {
  // TODO(step 9): InvalidArgument naming the size when it is odd or 0. Otherwise a new vector with
  //   out[i] = head[2i] and out[i + D/2] = head[2i + 1] for i in [0, D/2).
  (void)head;
  throw NotImplemented("lesson01 step 9: the permutation from adjacent pairs to half-split");
}

}  // namespace llm
