// model_runner.cpp — YOUR lesson 07 work, step 3: one forward pass over the chunks of many sequences in
// the flattened (varlen) layout. The input checks (check_batch) are given in given.cpp.
// The reference is solutions/lesson07_continuous_batching/model_runner.cpp — try before you look.
//
// Legend: Ttot tokens in the batch, T_i / P_i entry i's new tokens / positions before them, R entries
// that want logits, C hidden, V vocab, H query heads, KV key/value heads, D head_dim.
#include "model_runner.h"

#include <algorithm>
#include <vector>

#include "llm/ops.h"
#include "paged_attention.h"  // lesson 06 (reference): store_kv, paged_attention

namespace llm {

Tensor batched_forward(const CausalLM& model, std::span<const BatchEntry> batch) {
  // TODO(step 3): check_batch(model.config(), batch) first. start[i] = T_0 + ... + T_{i-1}: entry i owns
  //   rows start[i] .. start[i+1]-1 of every (Ttot, X) tensor. x (Ttot, C): row start[i] + t = row
  //   tokens[t] of *model.embed_tokens.weight.
  //   For each layer l, with its self_attn:
  //     h = input_layernorm(x); q = q_proj(h) (Ttot, H*D), k = k_proj(h), v = v_proj(h) (Ttot, KV*D)
  //       — ONE call each for all Ttot rows: that is what batching buys;
  //     rotate every head of row start[i] + t of q and k with model.rotary_emb.rotate(head, P_i + t);
  //     per entry i: store_kv(*table, l, P_i, its k rows, its v rows) and paged_attention(*table, l, P_i,
  //       its q rows) -> its rows of a (Ttot, H*D) tensor;
  //     x += o_proj(that tensor); x += mlp(post_attention_layernorm(x)) — all rows at once again.
  //   Then the LAST row of each entry with wants_logits, in order, into an (R, C) tensor: return
  //   lm_head(norm(it)), (R, V). R == 0: an empty (0, V) tensor.
  (void)model, (void)batch;
  throw NotImplemented(
      "lesson07 step 3: batched_forward (all sequences' tokens as one matrix, attention per sequence)");
}

}  // namespace llm
