// given.cpp — lesson 04 code you are given, not asked to write: input checks and checkpoint loading.
// Read it; call the checks from your forward() and generate(). It is compiled into both the student
// and the reference build, unchanged. Not here: anything a step asks you to write.
#include <cmath>
#include <utility>

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
  if (args.past_key_values && !args.use_cache)
    fail<InvalidArgument>("past_key_values given with use_cache = false: a cache is only read and extended "
                          "when use_cache is true");
  if (args.past_key_values) {
    args.past_key_values->check_compatible(config, B);
    P = args.past_key_values->seq_length();
    if (P + T > args.past_key_values->capacity())
      fail<InvalidArgument>(P, " cached + ", T, " new positions exceed the cache capacity ",
                            args.past_key_values->capacity(),
                            " (a step after the prefill feeds only the tokens the cache does not hold yet)");
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
  validate(o.sampling);
  if (o.eos_token_id) check_index(*o.eos_token_id, config.vocab_size, "eos_token_id");
  if (o.pad_token_id) check_index(*o.pad_token_id, config.vocab_size, "pad_token_id");
  check_forward_inputs(config, input_ids, {.attention_mask = o.attention_mask});
  const Index total = input_ids.size(1) + o.max_new_tokens;
  if (total > config.max_position_embeddings)
    fail<InvalidArgument>("prompt of ", input_ids.size(1), " tokens + max_new_tokens ", o.max_new_tokens, " = ",
                          total, " exceeds max_position_embeddings = ", config.max_position_embeddings);
}

// A loaded tensor as a model parameter (moved, not copied), after checking the shape the config implies.
static Linear weight(Tensor&& src, Index rows, Index cols, const char* what) {
  if (!(src.shape() == Shape{rows, cols}))
    fail<FormatError>("checkpoint tensor ", what, " has shape ", src.shape().str(), ", the model expects (", rows,
                      ", ", cols, ")");
  return Linear(std::move(src));
}

static RMSNorm norm_weight(Tensor&& src, Index hidden, float eps, const char* what) {
  if (!(src.shape() == Shape{hidden}))
    fail<FormatError>("checkpoint tensor ", what, " has shape ", src.shape().str(), ", the model expects (",
                      hidden, ")");
  RMSNorm norm;
  norm.weight = std::move(src);
  norm.eps = eps;
  return norm;
}

CausalLM CausalLM::from_checkpoint(Checkpoint ckpt) {
  // Every member is built from the checkpoint's tensors: drawing random weights first, only to
  // overwrite them, was most of the start-up time of the generate CLI.
  CausalLM model;
  model.config_ = ckpt.config;
  const ModelConfig& c = model.config_;
  c.validate();
  const Index V = c.vocab_size, C = c.hidden_size, F = c.intermediate_size;
  const Index HD = Index{c.num_attention_heads} * c.head_dim(), KVD = Index{c.num_key_value_heads} * c.head_dim();
  CheckpointWeights& w = ckpt.weights;
  if (w.layers.size() != static_cast<size_t>(c.num_hidden_layers))
    fail<FormatError>("checkpoint has ", w.layers.size(), " layers of weights, its config says ", c.num_hidden_layers);

  model.embed_tokens.weight = weight(std::move(w.token_embedding), V, C, "token_embedding").weight;
  model.layers.reserve(w.layers.size());
  for (LayerWeights& lw : w.layers) {
    DecoderLayer layer;
    layer.input_layernorm = norm_weight(std::move(lw.rms_att), C, c.rms_norm_eps, "rms_att_weight");
    layer.self_attn = Attention(c, weight(std::move(lw.wq), HD, C, "wq"), weight(std::move(lw.wk), KVD, C, "wk"),
                                weight(std::move(lw.wv), KVD, C, "wv"), weight(std::move(lw.wo), C, HD, "wo"));
    layer.post_attention_layernorm = norm_weight(std::move(lw.rms_ffn), C, c.rms_norm_eps, "rms_ffn_weight");
    layer.mlp = MLP(c, weight(std::move(lw.w1), F, C, "w1"), weight(std::move(lw.w3), F, C, "w3"),
                    weight(std::move(lw.w2), C, F, "w2"));
    model.layers.push_back(std::move(layer));
  }
  model.norm = norm_weight(std::move(w.rms_final), C, c.rms_norm_eps, "rms_final_weight");
  // Tied (no wcls): the LM head *is* the embedding matrix, one shared object.
  model.lm_head = w.wcls ? weight(std::move(*w.wcls), V, C, "wcls") : Linear{};
  if (!w.wcls) model.lm_head.weight = model.embed_tokens.weight;
  model.rotary_emb =
      RotaryEmbedding(c.head_dim(), c.max_position_embeddings, c.rope_theta, RopeConvention::kAdjacentPairs);
  return model;
}

}  // namespace llm
