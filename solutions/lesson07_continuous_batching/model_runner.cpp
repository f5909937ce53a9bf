// model_runner.cpp — lesson 07 reference, step 3: one forward pass over the chunks of many sequences, in
// the flattened (varlen) layout. Everything but attention is row-wise, so it runs on all Ttot rows at
// once — one matrix-matrix product per weight and step; attention alone goes sequence by sequence,
// through each one's block table.
//
// Legend: Ttot tokens in the batch, T_i / P_i entry i's new tokens / positions before them, R entries
// that want logits, C hidden, V vocab, H query heads, KV key/value heads, D head_dim.
#include "model_runner.h"

#include <algorithm>
#include <vector>

#include "llm/ops.h"
#include "paged_attention.h"  // lesson 06 (reference): store_kv, paged_attention

namespace llm {

// Rows [from, to) of a (Ttot, X) tensor, as their own (to - from, X) tensor.
static Tensor rows(const Tensor& x, Index from, Index to) {
  const Index X = x.size(1);
  Tensor out(Shape{to - from, X});
  std::copy_n(x.data() + from * X, (to - from) * X, out.data());
  return out;
}

// Step 3.
Tensor batched_forward(const CausalLM& model, std::span<const BatchEntry> batch) {
  const ModelConfig& cfg = model.config();
  check_batch(cfg, batch);
  const Index n = static_cast<Index>(batch.size()), C = cfg.hidden_size;
  const Index H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, D = cfg.head_dim();

  // The flattened layout: entry i owns rows start[i] .. start[i+1] - 1 of every (Ttot, X) tensor below;
  // row start[i] + t is its token t, at position P_i + t.
  std::vector<Index> start(static_cast<size_t>(n) + 1, 0);
  for (Index i = 0; i < n; ++i)
    start[static_cast<size_t>(i) + 1] =
        start[static_cast<size_t>(i)] + static_cast<Index>(batch[static_cast<size_t>(i)].tokens.size());
  const Index Ttot = start.back();

  Tensor x(Shape{Ttot, C});  // (Ttot, C) the residual stream of every new token of the batch
  const Tensor& embedding = *model.embed_tokens.weight;  // (V, C)
  for (Index i = 0; i < n; ++i) {
    const BatchEntry& e = batch[static_cast<size_t>(i)];
    for (size_t t = 0; t < e.tokens.size(); ++t)
      std::copy_n(embedding.row(e.tokens[t]).data(), C,
                  x.row(start[static_cast<size_t>(i)] + static_cast<Index>(t)).data());
  }

  for (Index l = 0; l < static_cast<Index>(model.layers.size()); ++l) {
    const DecoderLayer& layer = model.layers[static_cast<size_t>(l)];
    const Attention& attn = layer.self_attn;
    // pass 1: everything before attention, on all Ttot rows at once (each weight read once).
    const Tensor h = layer.input_layernorm.forward(x);  // (Ttot, C)
    Tensor q = attn.q_proj.forward(h);                  // (Ttot, H*D)
    Tensor k = attn.k_proj.forward(h);                  // (Ttot, KV*D)
    const Tensor v = attn.v_proj.forward(h);            // (Ttot, KV*D)
    for (Index i = 0; i < n; ++i) {                     // RoPE: each row at its own sequence's position
      const Index first = batch[static_cast<size_t>(i)].first;
      for (Index r = start[static_cast<size_t>(i)]; r < start[static_cast<size_t>(i) + 1]; ++r) {
        const Index pos = first + (r - start[static_cast<size_t>(i)]);
        for (Index hd = 0; hd < H; ++hd)
          model.rotary_emb.rotate(q.row(r).subspan(static_cast<size_t>(hd * D), static_cast<size_t>(D)), pos);
        for (Index g = 0; g < KV; ++g)
          model.rotary_emb.rotate(k.row(r).subspan(static_cast<size_t>(g * D), static_cast<size_t>(D)), pos);
      }
    }
    // pass 2: attention, sequence by sequence — each one's queries see only its own keys and values.
    Tensor mixed(Shape{Ttot, H * D});  // (Ttot, H*D) the attention output of every row
    for (Index i = 0; i < n; ++i) {
      const BatchEntry& e = batch[static_cast<size_t>(i)];
      const Index s = start[static_cast<size_t>(i)], end = start[static_cast<size_t>(i) + 1];
      store_kv(*e.table, l, e.first, rows(k, s, end), rows(v, s, end));
      const Tensor o = paged_attention(*e.table, l, e.first, rows(q, s, end));  // (T_i, H*D)
      std::copy_n(o.data(), o.numel(), mixed.row(s).data());
    }
    // pass 3: after attention, all rows at once again.
    add_inplace(x, attn.o_proj.forward(mixed));                                    // residual
    add_inplace(x, layer.mlp.forward(layer.post_attention_layernorm.forward(x)));  // MLP + residual
  }

  // The LM head only for the rows whose logits are used: a prefill chunk's other rows need none.
  Index R = 0;
  for (const BatchEntry& e : batch) R += e.wants_logits;
  if (R == 0) return Tensor(Shape{0, cfg.vocab_size});
  Tensor last(Shape{R, C});  // (R, C)
  Index r = 0;
  for (Index i = 0; i < n; ++i)
    if (batch[static_cast<size_t>(i)].wants_logits)
      std::copy_n(x.row(start[static_cast<size_t>(i) + 1] - 1).data(), C, last.row(r++).data());
  return model.lm_head.forward(model.norm.forward(last));  // (R, V)
}

}  // namespace llm
