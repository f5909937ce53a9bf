// given.cpp — lesson 04 code you are given, not asked to write: input checks and checkpoint loading.
// Read it; call the checks from your forward() and generate(). It is compiled into both the student
// and the reference build, unchanged.
#include <cmath>

#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "sampler.h"

namespace llm {

static void check_ids(const IdTensor& ids, const char* what, Index batch, Index len) {
  if (!(ids.shape() == Shape{batch, len}))
    fail<ShapeError>(what, " has shape ", ids.shape().str(), ", expected (", batch, ", ", len, ")");
}

void check_forward_inputs(const ModelConfig& config, const IdTensor& input_ids, const ForwardArgs& args) {
  if (input_ids.rank() != 2 || input_ids.size(0) == 0 || input_ids.size(1) == 0)
    fail<ShapeError>("input_ids must be a non-empty (batch, seq) tensor, got ", input_ids.shape().str());
  const Index B = input_ids.size(0), T = input_ids.size(1);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t)
      if (input_ids(b, t) < 0 || input_ids(b, t) >= config.vocab_size)
        fail<InvalidArgument>("token id ", input_ids(b, t), " at (", b, ", ", t, ") is out of range [0, ",
                              config.vocab_size, ") of the vocabulary");
  Index P = 0;
  if (args.past_key_values) {
    args.past_key_values->check_compatible(config, B);
    P = args.past_key_values->seq_length();
    if (P + T > args.past_key_values->capacity())
      fail<InvalidArgument>(P, " cached + ", T, " new positions exceed the cache capacity ",
                            args.past_key_values->capacity());
  }
  if (P + T > config.max_position_embeddings)
    fail<InvalidArgument>("sequence length ", P + T, " (", P, " cached + ", T,
                          " new) exceeds max_position_embeddings = ", config.max_position_embeddings);
  if (args.attention_mask) {
    const IdTensor& m = *args.attention_mask;
    check_ids(m, "attention_mask", B, P + T);
    for (Index b = 0; b < B; ++b) {
      bool any = false;
      for (Index j = 0; j < P + T; ++j) {
        if (m(b, j) != 0 && m(b, j) != 1)
          fail<InvalidArgument>("attention_mask(", b, ", ", j, ") = ", m(b, j), " must be 0 or 1");
        any = any || m(b, j) == 1;
      }
      if (!any) fail<InvalidArgument>("attention_mask row ", b, " is all padding: nothing to attend to");
    }
  }
  if (args.position_ids) {
    check_ids(*args.position_ids, "position_ids", B, T);
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < T; ++t)
        if ((*args.position_ids)(b, t) < 0 || (*args.position_ids)(b, t) >= config.max_position_embeddings)
          fail<InvalidArgument>("position_ids(", b, ", ", t, ") = ", (*args.position_ids)(b, t),
                                " is out of range [0, max_position_embeddings = ", config.max_position_embeddings,
                                ")");
  }
  if (args.labels) {
    check_ids(*args.labels, "labels", B, T);
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < T; ++t) {
        const auto label = (*args.labels)(b, t);
        if (label != -100 && (label < 0 || label >= config.vocab_size))
          fail<InvalidArgument>("label ", label, " at (", b, ", ", t, ") is out of range [0, ", config.vocab_size,
                                ") and is not the ignore index -100");
      }
  }
}

void check_generate_inputs(const ModelConfig& config, const IdTensor& input_ids, const GenerateOptions& o) {
  if (o.max_new_tokens < 0) fail<InvalidArgument>("max_new_tokens = ", o.max_new_tokens, " must be >= 0");
  validate(SamplingParams{o.temperature, o.top_k, o.top_p, o.repetition_penalty});
  if (o.eos_token_id) check_index(*o.eos_token_id, config.vocab_size, "eos_token_id");
  if (o.pad_token_id) check_index(*o.pad_token_id, config.vocab_size, "pad_token_id");
  ForwardArgs args;
  args.attention_mask = o.attention_mask;
  check_forward_inputs(config, input_ids, args);
  const Index total = input_ids.size(1) + o.max_new_tokens;
  if (total > config.max_position_embeddings)
    fail<InvalidArgument>("prompt of ", input_ids.size(1), " tokens + max_new_tokens ", o.max_new_tokens, " = ",
                          total, " exceeds max_position_embeddings = ", config.max_position_embeddings);
}

// Copy a loaded tensor into a model parameter of the same shape.
static void assign(Tensor& dst, const Tensor& src, const char* what) {
  if (!(dst.shape() == src.shape()))
    fail<FormatError>("checkpoint tensor ", what, " has shape ", src.shape().str(), ", the model expects ",
                      dst.shape().str());
  dst = src;
}

CausalLM CausalLM::from_checkpoint(const Checkpoint& ckpt) {
  CausalLM model(ckpt.config, /*seed=*/0);  // builds every member; the weights are overwritten below
  const CheckpointWeights& w = ckpt.weights;
  assign(*model.embed_tokens.weight, w.token_embedding, "token_embedding");
  for (size_t l = 0; l < model.layers.size(); ++l) {
    DecoderLayer& layer = model.layers[l];
    const LayerWeights& lw = w.layers.at(l);
    assign(layer.input_layernorm.weight, lw.rms_att, "rms_att_weight");
    assign(*layer.self_attn.q_proj.weight, lw.wq, "wq");
    assign(*layer.self_attn.k_proj.weight, lw.wk, "wk");
    assign(*layer.self_attn.v_proj.weight, lw.wv, "wv");
    assign(*layer.self_attn.o_proj.weight, lw.wo, "wo");
    assign(layer.post_attention_layernorm.weight, lw.rms_ffn, "rms_ffn_weight");
    assign(*layer.mlp.gate_proj.weight, lw.w1, "w1");
    assign(*layer.mlp.down_proj.weight, lw.w2, "w2");
    assign(*layer.mlp.up_proj.weight, lw.w3, "w3");
  }
  assign(model.norm.weight, w.rms_final, "rms_final_weight");
  if (w.wcls) assign(*model.lm_head.weight, *w.wcls, "wcls");
  return model;
}

}  // namespace llm
