// paged_model.cpp — YOUR lesson 06 work, steps 6 and 7: the lesson-04 model's forward pass on the paged
// cache, and greedy generation on it. The input checks are given in given.cpp. The reference is
// solutions/lesson06_paged_kv_cache/paged_model.cpp — try before you look.
//
// Legend: T new tokens, P positions already in the table, C hidden, V vocab, L layers, H query heads,
// KV key/value heads, D head_dim.
#include "paged_model.h"

#include <algorithm>

#include "causal_lm.h"  // lesson 04: the model's members
#include "llm/ops.h"
#include "paged_attention.h"
#include "sampler.h"  // lesson 04: select_greedy

namespace llm {

Tensor paged_forward(const CausalLM& model, BlockTable& table, std::span<const std::int32_t> tokens) {
  // TODO(step 6): check_paged_forward(model.config(), table, tokens) first. P = table.length(),
  //   T = tokens.size(); table.append(T) (slots for positions P .. P+T-1).
  //   x (T, C): row t = row tokens[t] of *model.embed_tokens.weight.
  //   For each layer l of model.layers, with its self_attn:
  //     h = input_layernorm.forward(x); q = q_proj(h) (T, H*D), k = k_proj(h), v = v_proj(h) (T, KV*D);
  //     rotate every head of q and k with model.rotary_emb.rotate(head, P + t) — positions from P;
  //     store_kv(table, l, P, k, v); x += o_proj(paged_attention(table, l, P, q));
  //     x += mlp(post_attention_layernorm(x)).
  //   Return lm_head(norm(x)): (T, V). If anything throws after the append, table.crop(P) and rethrow.
  (void)model, (void)table, (void)tokens;
  throw NotImplemented("lesson06 step 6: paged_forward (the model over a block table)");
}

PagedGeneration paged_generate(const CausalLM& model, BlockPool& pool, std::span<const std::int32_t> prompt,
                               const PagedGenerateOptions& options) {
  // TODO(step 7): check_paged_generate(...) first; tokens = the prompt; max_new_tokens == 0: return.
  //   A BlockTable over pool. In a try block:
  //     1. cached = options.prefix_cache ? prefix_cache->attach(table, prompt) : 0;
  //     2. the rest of the prompt through paged_forward, in chunks of prefill_chunk when > 0;
  //        computed_prompt_tokens counts what ran;
  //     3. each step: publish the table (with a prefix cache), next = select_greedy(last row of the last
  //        logits), append it to tokens; stop after max_new_tokens or at eos; else paged_forward(next).
  //   On any exception: table.release(), rethrow. At the end: table.release(), return.
  (void)model, (void)pool, (void)prompt, (void)options;
  throw NotImplemented("lesson06 step 7: paged_generate (prefix, prefill, decode on the paged cache)");
}

}  // namespace llm
