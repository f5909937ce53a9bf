// probes_lesson02.cpp — `./llm compare lesson02`: the norms, scaled dot-product attention, repeat_kv,
// the cache's append and grouped-query attention with and without a cache, each on fixed seeded inputs.
// Not here: timing, the given parts of the cache (crop, byte counts).
#include <string>

#include "attention.h"
#include "grade/probes.h"
#include "kv_cache.h"
#include "norm.h"
#include "rope.h"

using namespace llm;
using namespace llm::dump;

int main() {
  emit("{\"setup\":\"ModelConfig::tiny() and seeded inputs\"}");
  const Tensor x = seeded(Shape{2, 3, 8}, 1, 3.0f);  // (B, T, C)
  probe(1, "RMSNorm (2, 3, 8) eps 1e-6 with a weight", [&] {
    RMSNorm n(8, 1e-6f);
    n.weight = seeded(Shape{8}, 2);
    return floats(n.forward(x));
  });
  probe(1, "RMSNorm eps 0.5", [&] { return floats(RMSNorm(8, 0.5f).forward(x)); });
  probe(2, "LayerNorm (2, 3, 8) eps 1e-5 with weight and bias", [&] {
    LayerNorm n(8, 1e-5f);
    n.weight = seeded(Shape{8}, 3);
    n.bias = seeded(Shape{8}, 4);
    return floats(n.forward(x));
  });
  probe(2, "LayerNorm of a constant row", [] { return floats(LayerNorm(4, 1e-5f).forward(Tensor(Shape{1, 4}, 2.5f))); });

  const Tensor q = seeded(Shape{1, 2, 3, 4}, 5), k = seeded(Shape{1, 2, 5, 4}, 6), v = seeded(Shape{1, 2, 5, 4}, 7);
  probe(3, "attention without a mask (B 1 H 2 T 3 S 5 D 4)", [&] { return floats(scaled_dot_product_attention(q, k, v)); });
  probe(3, "attention with a causal mask (2 cached positions)", [&] {
    const Tensor mask = causal_mask(1, 3, 2);
    return floats(scaled_dot_product_attention(q, k, v, &mask));
  });
  probe(4, "repeat_kv (1, 2, 5, 4) x 3", [&] { return floats(repeat_kv(k, 3)); });

  probe(5, "append 2 then 3 positions: key_states", [] {
    LayerKVCache c(1, 2, 8, 4);
    c.append(seeded(Shape{1, 2, 8}, 8), seeded(Shape{1, 2, 8}, 9));
    c.append(seeded(Shape{1, 3, 8}, 10), seeded(Shape{1, 3, 8}, 11));
    return floats(c.key_states());
  });
  probe(5, "append 2 then 3 positions: value_states", [] {
    LayerKVCache c(1, 2, 8, 4);
    c.append(seeded(Shape{1, 2, 8}, 8), seeded(Shape{1, 2, 8}, 9));
    c.append(seeded(Shape{1, 3, 8}, 10), seeded(Shape{1, 3, 8}, 11));
    return floats(c.value_states());
  });

  ModelConfig cfg = ModelConfig::tiny();  // 4 heads, 2 KV heads
  Rng rng(12);
  const Attention attn(cfg, rng);
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor h = seeded(Shape{2, 5, cfg.hidden_size}, 13);  // (B, T, C)
  probe(6, "GQA attention, no mask, no cache", [&] { return floats(attn.forward(h, positions(2, 5, 0), nullptr, nullptr, rope)); });
  probe(6, "GQA attention, causal mask, no cache", [&] {
    const Tensor mask = causal_mask(2, 5, 0);
    return floats(attn.forward(h, positions(2, 5, 0), &mask, nullptr, rope));
  });
  probe(6, "GQA attention: 5 tokens one at a time through a cache", [&] {
    LayerKVCache cache(2, cfg.num_key_value_heads, 8, cfg.head_dim());
    return token_by_token(attn, h, cache, rope);
  });
  emit("{\"done\":true}");
}
