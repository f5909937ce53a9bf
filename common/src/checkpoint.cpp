// checkpoint.cpp — reads llama2.c v0 checkpoints: header checks, exact file size, then the weights.
#include "llm/checkpoint.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "llm/binary_file.h"
#include "llm/eigen_view.h"
#include "llm/errors.h"
#include "llm/limits.h"

namespace llm {

// The format is little-endian and we read floats straight into tensor buffers, so a big-endian host
// would need byte swapping that this reader does not do.
static_assert(std::endian::native == std::endian::little,
              "the llama2.c checkpoint reader assumes a little-endian host");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "checkpoint weights are IEEE-754 float32");

namespace {

constexpr std::uint64_t kHeaderBytes = 7 * sizeof(std::int32_t);

// Multiplication and addition that refuse to wrap: the header limits make overflow impossible today,
// but the size check is the one thing standing between a hostile header and a huge allocation, so it
// must not be defeatable by arithmetic wrap-around if the limits are ever raised.
std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint64_t>(checked_mul<FormatError>(static_cast<std::int64_t>(a),
                                                             static_cast<std::int64_t>(b), "checkpoint size"));
}
std::uint64_t add(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint64_t>(checked_add<FormatError>(static_cast<std::int64_t>(a),
                                                             static_cast<std::int64_t>(b), "checkpoint size"));
}

// |vocab_size| in 64 bits: std::abs(INT_MIN) would be undefined behaviour.
std::int64_t abs_vocab(const CheckpointHeader& h) { return std::llabs(static_cast<long long>(h.vocab_size)); }

// `where` prefixes every message ("checkpoint /path/x.bin" or "checkpoint header") so the user knows
// which file is bad.
void check_field(const std::string& where, const char* name, std::int64_t value, std::int64_t limit) {
  if (value < 1 || value > limit)
    fail<FormatError>(where, ": header field ", name, " = ", value, " is out of range [1, ", limit, "]");
}

void validate_header(const CheckpointHeader& h, const std::string& where) {
  check_field(where, "dim", h.dim, kMaxHiddenSize);
  check_field(where, "hidden_dim", h.hidden_dim, kMaxHiddenSize);
  check_field(where, "n_layers", h.n_layers, kMaxLayers);
  check_field(where, "n_heads", h.n_heads, kMaxHiddenSize);
  check_field(where, "n_kv_heads", h.n_kv_heads, kMaxHiddenSize);
  check_field(where, "|vocab_size|", abs_vocab(h), kMaxVocabSize);
  check_field(where, "seq_len", h.seq_len, kMaxPositions);
  if (h.dim % h.n_heads != 0)
    fail<FormatError>(where, ": header field dim = ", h.dim, " is not divisible by n_heads = ", h.n_heads);
  if (h.n_heads % h.n_kv_heads != 0)
    fail<FormatError>(where, ": header field n_heads = ", h.n_heads,
                      " is not divisible by n_kv_heads = ", h.n_kv_heads);
  const int head_size = h.dim / h.n_heads;
  if (head_size % 2 != 0)
    fail<FormatError>(where, ": head_size = dim / n_heads = ", h.dim, " / ", h.n_heads, " = ", head_size,
                      " must be even (RoPE rotates pairs)");
}

// Float count of every section, in file order. Shared by the size computation and the reader so the
// two can never disagree.
struct SectionSizes {
  std::uint64_t embedding, rms, wq, wkv, wo, w13, w2, rms_final, freq, wcls;
};

SectionSizes section_sizes(const CheckpointHeader& h) {
  const std::uint64_t C = static_cast<std::uint64_t>(h.dim);
  const std::uint64_t F = static_cast<std::uint64_t>(h.hidden_dim);
  const std::uint64_t V = static_cast<std::uint64_t>(abs_vocab(h));
  const std::uint64_t D = C / static_cast<std::uint64_t>(h.n_heads);
  const std::uint64_t KV = static_cast<std::uint64_t>(h.n_kv_heads);
  const std::uint64_t T = static_cast<std::uint64_t>(h.seq_len);
  SectionSizes s{};
  s.embedding = mul(V, C);
  s.rms = C;
  s.wq = mul(C, C);  // H*D == C
  s.wkv = mul(mul(KV, D), C);
  s.wo = mul(C, C);
  s.w13 = mul(F, C);
  s.w2 = mul(C, F);
  s.rms_final = C;
  s.freq = mul(T, D / 2);
  s.wcls = h.vocab_size < 0 ? s.embedding : 0;
  return s;
}

std::uint64_t total_bytes(const CheckpointHeader& h) {
  const SectionSizes s = section_sizes(h);
  const std::uint64_t L = static_cast<std::uint64_t>(h.n_layers);
  std::uint64_t per_layer = 0;
  for (std::uint64_t n : {s.rms, s.wq, s.wkv, s.wkv, s.wo, s.rms, s.w13, s.w2, s.w13})
    per_layer = add(per_layer, n);
  std::uint64_t floats = add(s.embedding, mul(L, per_layer));
  floats = add(floats, s.rms_final);
  floats = add(floats, mul(2, s.freq));
  floats = add(floats, s.wcls);
  return add(kHeaderBytes, mul(floats, sizeof(float)));
}

// Reads tensors in file order from an already size-checked stream.
class Reader {
 public:
  Reader(std::ifstream& in, std::string where) : in_(in), where_(std::move(where)) {}

  // Reads `rows x cols` (or a vector when cols == 0) and refuses NaN/inf: a non-finite weight means a
  // corrupt file or a broken export, and would silently poison every logit downstream.
  Tensor read(const std::string& name, Index rows, Index cols = 0) {
    // Uninitialised: the file fills every value (read_raw throws on a short read).
    Tensor t = cols == 0 ? Tensor(Shape{rows}, kUninitialized) : Tensor(Shape{rows, cols}, kUninitialized);
    read_raw(name, reinterpret_cast<char*>(t.data()), static_cast<std::uint64_t>(t.numel()));
    // One vectorised pass: x - x is 0 for every finite x and NaN for inf and NaN, so the largest of them
    // (NaN propagated) is NaN exactly when some weight is not finite. The index is looked for only then.
    const ConstVectorMap v = as_vector(std::span<const float>(t.flat()));
    if (std::isnan((v.array() - v.array()).maxCoeff<Eigen::PropagateNaN>()))
      for (Index i = 0; i < t.numel(); ++i)
        if (!std::isfinite(t.data()[i]))
          fail<FormatError>(where_, ": tensor ", name, " ", t.shape().str(), " has a non-finite value (",
                            t.data()[i], ") at flat index ", i);
    return t;
  }

  // Skips floats we do not keep (the legacy RoPE tables, recomputed at run time).
  void skip(const std::string& name, std::uint64_t floats) {
    in_.seekg(static_cast<std::streamoff>(floats * sizeof(float)), std::ios::cur);
    if (!in_) fail<FormatError>(where_, ": could not skip ", name, " (", floats, " floats)");
  }

 private:
  void read_raw(const std::string& name, char* dst, std::uint64_t floats) {
    const auto bytes = static_cast<std::streamsize>(floats * sizeof(float));
    in_.read(dst, bytes);
    // The size was checked up front, so a short read means the file changed under us or the disk failed.
    if (in_.gcount() != bytes)
      fail<FormatError>(where_, ": short read in tensor ", name, ": wanted ", bytes, " bytes, got ",
                        in_.gcount());
  }

  std::ifstream& in_;
  std::string where_;
};

}  // namespace

std::uint64_t expected_checkpoint_bytes(const CheckpointHeader& header) {
  validate_header(header, "checkpoint header");
  return total_bytes(header);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  const std::string where = "checkpoint " + path.string();

  detail::BinaryFile file = detail::open_binary(path, where);
  std::ifstream& in = file.in;
  const std::uint64_t file_bytes = file.size;

  if (file_bytes < kHeaderBytes)
    fail<FormatError>(where, " is truncated: ", file_bytes, " bytes is shorter than the ", kHeaderBytes,
                      "-byte header");
  std::int32_t raw[7];
  in.read(reinterpret_cast<char*>(raw), sizeof raw);
  if (in.gcount() != static_cast<std::streamsize>(sizeof raw))
    fail<IoError>("cannot read the header of ", where);

  Checkpoint ck;
  CheckpointHeader& h = ck.header;
  h.dim = raw[0];
  h.hidden_dim = raw[1];
  h.n_layers = raw[2];
  h.n_heads = raw[3];
  h.n_kv_heads = raw[4];
  h.vocab_size = raw[5];
  h.seq_len = raw[6];

  // Everything below is decided by the header and the file size alone: no weight is allocated until
  // both agree, so a garbage header cannot trigger a multi-gigabyte allocation.
  validate_header(h, where);
  const std::uint64_t want = total_bytes(h);
  if (file_bytes < want)
    fail<FormatError>(where, " is truncated: header implies ", want, " bytes, file has ", file_bytes);
  if (file_bytes > want)
    fail<FormatError>(where, " has ", file_bytes - want, " trailing bytes: header implies ", want,
                      " bytes, file has ", file_bytes);

  const Index C = h.dim, F = h.hidden_dim, L = h.n_layers;
  const Index V = abs_vocab(h);
  const Index D = C / h.n_heads;
  const Index HD = static_cast<Index>(h.n_heads) * D;
  const Index KVD = static_cast<Index>(h.n_kv_heads) * D;

  Reader r(in, where);
  CheckpointWeights& w = ck.weights;
  w.token_embedding = r.read("token_embedding", V, C);
  w.layers.resize(static_cast<size_t>(L));

  // Each array is stacked over layers, so layer l's slice is contiguous: read it straight into the
  // layer's own tensor instead of reading the stack and copying.
  auto each_layer = [&](const char* name, Tensor LayerWeights::*field, Index rows, Index cols) {
    for (Index l = 0; l < L; ++l)
      w.layers[static_cast<size_t>(l)].*field =
          r.read(std::string(name) + " of layer " + std::to_string(l), rows, cols);
  };
  each_layer("rms_att", &LayerWeights::rms_att, C, 0);
  each_layer("wq", &LayerWeights::wq, HD, C);
  each_layer("wk", &LayerWeights::wk, KVD, C);
  each_layer("wv", &LayerWeights::wv, KVD, C);
  each_layer("wo", &LayerWeights::wo, C, HD);
  each_layer("rms_ffn", &LayerWeights::rms_ffn, C, 0);
  each_layer("w1", &LayerWeights::w1, F, C);
  each_layer("w2", &LayerWeights::w2, C, F);
  each_layer("w3", &LayerWeights::w3, F, C);
  w.rms_final = r.read("rms_final", C);
  const SectionSizes s = section_sizes(h);
  r.skip("freq_cis_real", s.freq);
  r.skip("freq_cis_imag", s.freq);
  if (h.vocab_size < 0) w.wcls = r.read("wcls", V, C);

  ModelConfig& c = ck.config;
  c.vocab_size = static_cast<int>(V);
  c.hidden_size = h.dim;
  c.intermediate_size = h.hidden_dim;
  c.num_hidden_layers = h.n_layers;
  c.num_attention_heads = h.n_heads;
  c.num_key_value_heads = h.n_kv_heads;
  c.max_position_embeddings = h.seq_len;
  // Not stored in the v0 format: these are the values llama2.c hard-codes for every checkpoint.
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-5f;
  c.tie_word_embeddings = h.vocab_size > 0;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  // The header checks cover everything except rules that only the config knows (e.g. a vocabulary too
  // small to hold BOS/EOS); report those as a bad file, not as a bad argument.
  try {
    c.validate();
  } catch (const InvalidArgument& e) {
    fail<FormatError>(where, ": header gives an invalid model config: ", e.what());
  }
  return ck;
}

}  // namespace llm
