// paged_model.cpp — lesson 06 reference, steps 6 and 7: the lesson-04 model's forward pass on the paged
// cache (one sequence, a chunk of new tokens through its block table), and greedy generation on it:
// the cached prefix, the prefill of the rest, then one token per step. The weights and the blocks they
// are made of (lessons 01-03) are used as they are; only the attention reads and writes the pool.
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

// Rotates every head of x (T, n_heads*D) by RoPE, row t at position first + t (lesson 01's rotate()).
static void rotate_rows(const RotaryEmbedding& rope, Tensor& x, Index first, Index n_heads) {
  const Index T = x.size(0), D = x.size(1) / n_heads;
  for (Index t = 0; t < T; ++t)
    for (Index h = 0; h < n_heads; ++h)
      rope.rotate(std::span<float>(x.data() + (t * n_heads + h) * D, static_cast<size_t>(D)), first + t);
}

// Step 6.
Tensor paged_forward(const CausalLM& model, BlockTable& table, std::span<const std::int32_t> tokens) {
  const ModelConfig& cfg = model.config();
  check_paged_forward(cfg, table, tokens);
  const Index P = table.length(), T = static_cast<Index>(tokens.size()), C = cfg.hidden_size;
  const Index H = cfg.num_attention_heads, KV = cfg.num_key_value_heads;
  table.append(T);  // slots for positions P .. P+T-1; a full pool throws here, before anything changed
  try {
    Tensor x(Shape{T, C});  // (T, C) the residual stream of this sequence's new tokens
    const Tensor& embedding = *model.embed_tokens.weight;  // (V, C)
    for (Index t = 0; t < T; ++t) std::copy_n(embedding.row(tokens[static_cast<size_t>(t)]).data(), C, x.row(t).data());
    for (Index l = 0; l < static_cast<Index>(model.layers.size()); ++l) {
      const DecoderLayer& layer = model.layers[static_cast<size_t>(l)];
      const Attention& attn = layer.self_attn;
      const Tensor h = layer.input_layernorm.forward(x);  // (T, C)
      Tensor q = attn.q_proj.forward(h);                  // (T, H*D)
      Tensor k = attn.k_proj.forward(h);                  // (T, KV*D)
      const Tensor v = attn.v_proj.forward(h);            // (T, KV*D)
      rotate_rows(model.rotary_emb, q, P, H);             // positions P .., not 0 ..
      rotate_rows(model.rotary_emb, k, P, KV);
      store_kv(table, l, P, k, v);                        // only the new positions are computed
      add_inplace(x, attn.o_proj.forward(paged_attention(table, l, P, q)));  // attention + residual
      add_inplace(x, layer.mlp.forward(layer.post_attention_layernorm.forward(x)));  // MLP + residual
    }
    return model.lm_head.forward(model.norm.forward(x));  // (T, V)
  } catch (...) {
    table.crop(P);  // the slots of a forward that did not finish hold nothing usable
    throw;
  }
}

// Step 7.
PagedGeneration paged_generate(const CausalLM& model, BlockPool& pool, std::span<const std::int32_t> prompt,
                               const PagedGenerateOptions& options) {
  check_paged_generate(model.config(), pool, prompt, options);
  PagedGeneration out;
  out.tokens.assign(prompt.begin(), prompt.end());
  if (options.max_new_tokens == 0) return out;
  PrefixCache* cache = options.prefix_cache;
  const Index N = static_cast<Index>(prompt.size());
  BlockTable table(pool);
  try {
    // pass 1: the prompt's cached prefix, shared instead of computed.
    out.cached_prompt_tokens = cache ? cache->attach(table, prompt) : 0;
    // pass 2: prefill the rest, all at once or in chunks; only the last chunk's last logits matter.
    Tensor logits;  // (T, V) of the latest forward
    for (Index done = out.cached_prompt_tokens; done < N;) {
      const Index len = options.prefill_chunk > 0 ? std::min(options.prefill_chunk, N - done) : N - done;
      logits = paged_forward(model, table, prompt.subspan(static_cast<size_t>(done), static_cast<size_t>(len)));
      done += len;
      out.computed_prompt_tokens += len;
    }
    // pass 3: decode, one token per step.
    for (int step = 0;; ++step) {
      if (cache) cache->publish(table, out.tokens);  // blocks that filled up become findable
      const std::int32_t next = select_greedy(logits.row(logits.size(0) - 1));
      out.tokens.push_back(next);
      if (step + 1 == options.max_new_tokens || (options.eos_token_id && next == *options.eos_token_id)) break;
      logits = paged_forward(model, table, std::span<const std::int32_t>(&out.tokens.back(), 1));
    }
  } catch (...) {
    table.release();  // nothing leaks: the pool's free count is back where it was
    throw;
  }
  table.release();  // published blocks stay findable in the free list until reused
  return out;
}

}  // namespace llm
