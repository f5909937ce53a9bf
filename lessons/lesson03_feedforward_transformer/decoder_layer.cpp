// decoder_layer.cpp — YOUR lesson 03 work, exercise 2: the pre-norm decoder block.
// The reference is solutions/lesson03_feedforward_transformer/decoder_layer.cpp — try before you look.
//
// Legend: B batch, T new tokens, C hidden_size.
#include "decoder_layer.h"

#include "llm/errors.h"

namespace llm {

Tensor DecoderLayer::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                             const RotaryEmbedding& rope) const {
  // TODO(step 4): h = x + self_attn(input_layernorm(x), ...); out = h + mlp(post_attention_layernorm(h)).
  (void)x, (void)positions, (void)mask, (void)cache, (void)rope;
  throw NotImplemented("lesson03 step 4: the pre-norm decoder block with both residuals");
}

}  // namespace llm
