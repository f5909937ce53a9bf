// decoder_layer.cpp — lesson 03 reference, step 4: the pre-norm residual block.
#include "decoder_layer.h"

#include "llm/ops.h"

namespace llm {

// Step 4.
Tensor DecoderLayer::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                             const RotaryEmbedding& rope) const {
  // Normalise *before* each sub-block and add its output back to the untouched residual stream.
  Tensor h = add(self_attn.forward(input_layernorm.forward(x), positions, mask, cache, rope), x);
  Tensor out = mlp.forward(post_attention_layernorm.forward(h));
  add_inplace(out, h);
  return out;
}

}  // namespace llm
