// checkpoint_test.cpp — load_checkpoint on stories260K, a synthetic file with known values, corrupt copies.
// copies.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "test_support.h"

namespace fs = std::filesystem;
using llm::Checkpoint;
using llm::CheckpointHeader;
using llm::FormatError;
using llm::Index;
using llm::IoError;
using llm::LayerWeights;
using llm::Tensor;

namespace {

using llm::testing::contains;
using llm::testing::TempDir;

void put_i32(std::string& bytes, std::int32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); }
void put_f32(std::string& bytes, float v) { bytes.append(reinterpret_cast<const char*>(&v), 4); }
void patch_i32(std::string& bytes, size_t offset, std::int32_t v) { std::memcpy(&bytes[offset], &v, 4); }
void patch_f32(std::string& bytes, size_t offset, float v) { std::memcpy(&bytes[offset], &v, 4); }
float get_f32(const std::string& bytes, size_t offset) {
  float v = 0.0f;
  std::memcpy(&v, &bytes[offset], 4);
  return v;
}

// The value the synthetic writer stores at global float index k (counted from the first float after
// the header). Every float in the file is distinct and exact, so a value found in the wrong tensor or
// at the wrong row/column cannot be mistaken for the right one.
float synth_value(std::uint64_t k) { return 0.5f + static_cast<float>(k); }

// A small checkpoint written section by section exactly as SOURCE.md lays it out; `start` records where
// each section begins (in floats) so the test can compute by itself where every element must land.
struct Synthetic {
  CheckpointHeader h;
  std::map<std::string, std::uint64_t> start;
  std::string bytes;
};

Synthetic make_synthetic(int vocab_size) {
  Synthetic s;
  s.h = CheckpointHeader{8, 16, 2, 2, 1, vocab_size, 4};  // C=8, F=16, L=2, H=2, KV=1, D=4, T=4
  for (int field :
       {s.h.dim, s.h.hidden_dim, s.h.n_layers, s.h.n_heads, s.h.n_kv_heads, s.h.vocab_size, s.h.seq_len})
    put_i32(s.bytes, field);
  std::uint64_t k = 0;
  auto section = [&](const std::string& name, std::uint64_t count) {
    s.start[name] = k;
    for (std::uint64_t i = 0; i < count; ++i) put_f32(s.bytes, synth_value(k++));
  };
  const std::uint64_t C = 8, F = 16, L = 2, D = 4, H = 2, KV = 1, T = 4;
  const std::uint64_t V = static_cast<std::uint64_t>(std::abs(vocab_size));
  section("token_embedding", V * C);
  section("rms_att", L * C);
  section("wq", L * H * D * C);
  section("wk", L * KV * D * C);
  section("wv", L * KV * D * C);
  section("wo", L * C * H * D);
  section("rms_ffn", L * C);
  section("w1", L * F * C);
  section("w2", L * C * F);
  section("w3", L * F * C);
  section("rms_final", C);
  section("freq_cis_real", T * D / 2);
  section("freq_cis_imag", T * D / 2);
  if (vocab_size < 0) section("wcls", V * C);
  return s;
}

// Byte offset of float index k in a synthetic file.
size_t synth_offset(std::uint64_t k) { return 28 + 4 * static_cast<size_t>(k); }

// Loads `path` expecting exception type E, and returns its message ("" if nothing or something else
// was thrown, which the CHECKs on the message then report).
template <typename E>
std::string load_error(const fs::path& path) {
  INFO("load_checkpoint(" << path.string() << ") must refuse this file with the expected exception type");
  return llm::testing::error_message<E>([&] { (void)llm::load_checkpoint(path); });
}

struct LayerField {
  const char* name;
  Tensor LayerWeights::*field;
  Index rows, cols;  // cols == 0: a vector
};

}  // namespace

TEST_CASE("checkpoint stories260K header and derived config" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const Checkpoint ck = llm::load_checkpoint(files->checkpoint);
  const CheckpointHeader& h = ck.header;
  CHECK_MESSAGE(h.dim == 64, "header dim (C) of stories260K");
  CHECK_MESSAGE(h.hidden_dim == 172, "header hidden_dim (F) of stories260K");
  CHECK_MESSAGE(h.n_layers == 5, "header n_layers of stories260K");
  CHECK_MESSAGE(h.n_heads == 8, "header n_heads of stories260K");
  CHECK_MESSAGE(h.n_kv_heads == 4, "header n_kv_heads of stories260K");
  CHECK_MESSAGE(h.vocab_size == 512, "header vocab_size of stories260K (positive: tied classifier)");
  CHECK_MESSAGE(h.seq_len == 512, "header seq_len of stories260K");
  CHECK_MESSAGE(llm::expected_checkpoint_bytes(h) == 1056540u, "expected size of stories260K.bin");

  const llm::ModelConfig want = llm::ModelConfig::stories260k();
  const llm::ModelConfig& got = ck.config;
  CHECK_MESSAGE(got.vocab_size == want.vocab_size, "config vocab_size from header");
  CHECK_MESSAGE(got.hidden_size == want.hidden_size, "config hidden_size from header dim");
  CHECK_MESSAGE(got.intermediate_size == want.intermediate_size, "config intermediate_size from hidden_dim");
  CHECK_MESSAGE(got.num_hidden_layers == want.num_hidden_layers, "config num_hidden_layers");
  CHECK_MESSAGE(got.num_attention_heads == want.num_attention_heads, "config num_attention_heads");
  CHECK_MESSAGE(got.num_key_value_heads == want.num_key_value_heads, "config num_key_value_heads");
  CHECK_MESSAGE(got.max_position_embeddings == want.max_position_embeddings,
                "config max_position_embeddings from seq_len");
  CHECK_MESSAGE(got.rope_theta == want.rope_theta, "config rope_theta (llama2.c uses 10000)");
  CHECK_MESSAGE(got.rms_norm_eps == want.rms_norm_eps, "config rms_norm_eps (llama2.c uses 1e-5)");
  CHECK_MESSAGE(got.tie_word_embeddings == want.tie_word_embeddings,
                "config tie_word_embeddings (positive vocab)");
  CHECK_MESSAGE(got.initializer_range == want.initializer_range, "config initializer_range (default)");
  CHECK_MESSAGE(got.bos_token_id == want.bos_token_id, "config bos_token_id");
  CHECK_MESSAGE(got.eos_token_id == want.eos_token_id, "config eos_token_id");
  CHECK_MESSAGE(got.head_dim() == 8, "config head_dim = 64 / 8");
}

TEST_CASE("checkpoint stories260K tensor shapes and raw values" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const Checkpoint ck = llm::load_checkpoint(files->checkpoint);
  const auto& w = ck.weights;
  CHECK_MESSAGE((w.token_embedding.shape() == llm::Shape{512, 64}), "token_embedding is (V, C)");
  CHECK_MESSAGE((w.rms_final.shape() == llm::Shape{64}), "rms_final is (C,)");
  CHECK_MESSAGE(!w.wcls.has_value(), "stories260K has tied embeddings: no separate wcls");
  REQUIRE_MESSAGE(w.layers.size() == 5u, "one LayerWeights per layer");
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    INFO("layer " << l);
    CHECK_MESSAGE((lw.rms_att.shape() == llm::Shape{64}), "rms_att is (C,)");
    CHECK_MESSAGE((lw.wq.shape() == llm::Shape{64, 64}), "wq is (H*D, C)");
    CHECK_MESSAGE((lw.wk.shape() == llm::Shape{32, 64}), "wk is (KV*D, C)");
    CHECK_MESSAGE((lw.wv.shape() == llm::Shape{32, 64}), "wv is (KV*D, C)");
    CHECK_MESSAGE((lw.wo.shape() == llm::Shape{64, 64}), "wo is (C, H*D)");
    CHECK_MESSAGE((lw.rms_ffn.shape() == llm::Shape{64}), "rms_ffn is (C,)");
    CHECK_MESSAGE((lw.w1.shape() == llm::Shape{172, 64}), "w1 (gate) is (F, C)");
    CHECK_MESSAGE((lw.w2.shape() == llm::Shape{64, 172}), "w2 (down) is (C, F)");
    CHECK_MESSAGE((lw.w3.shape() == llm::Shape{172, 64}), "w3 (up) is (F, C)");
  }

  // Cross-check a few values against the raw bytes, with offsets computed here from SOURCE.md.
  const std::string raw = llm::testing::read_file(files->checkpoint);
  const size_t C = 64, F = 172, L = 5, V = 512, KVD = 32;
  size_t off = 28;
  CHECK_MESSAGE(w.token_embedding(0, 0) == get_f32(raw, off),
                "token_embedding starts right after the header");
  CHECK_MESSAGE(w.token_embedding(511, 63) == get_f32(raw, off + 4 * (V * C - 1)),
                "last token_embedding value");
  off += 4 * V * C;
  CHECK_MESSAGE(w.layers[2].rms_att(5) == get_f32(raw, off + 4 * (2 * C + 5)), "rms_att of layer 2");
  off += 4 * L * C;
  off += 4 * L * C * C;  // wq
  CHECK_MESSAGE(w.layers[3].wk(7, 9) == get_f32(raw, off + 4 * (3 * KVD * C + 7 * C + 9)),
                "wk of layer 3 (7, 9)");
  off += 4 * (2 * L * KVD * C + L * C * C + L * C);  // wk, wv, wo, rms_ffn
  CHECK_MESSAGE(w.layers[4].w1(171, 0) == get_f32(raw, off + 4 * (4 * F * C + 171 * C)),
                "w1 of layer 4 (171, 0)");
  off += 4 * 3 * L * F * C;  // w1, w2, w3
  CHECK_MESSAGE(w.rms_final(63) == get_f32(raw, off + 4 * 63), "last rms_final value");
}

TEST_CASE("checkpoint synthetic file puts every value where it belongs") {
  TempDir dir;
  const Synthetic s = make_synthetic(-10);  // negative: a separate classifier follows the RoPE tables
  const Checkpoint ck = llm::load_checkpoint(dir.write("synthetic.bin", s.bytes));
  CHECK_MESSAGE(llm::expected_checkpoint_bytes(s.h) == s.bytes.size(), "expected size of the synthetic file");
  CHECK_MESSAGE(ck.header.vocab_size == -10, "header keeps the stored (negative) vocab_size");
  CHECK_MESSAGE(ck.config.vocab_size == 10, "config vocab_size is |vocab_size|");
  CHECK_MESSAGE(!ck.config.tie_word_embeddings, "negative vocab_size means untied embeddings");
  CHECK_MESSAGE(ck.config.max_position_embeddings == 4, "config max_position_embeddings from seq_len");
  CHECK_MESSAGE(ck.config.num_key_value_heads == 1, "config num_key_value_heads from header");

  const auto& w = ck.weights;
  const Index C = 8, F = 16, D = 4, V = 10;
  REQUIRE_MESSAGE(w.layers.size() == 2u, "two layers in the synthetic file");
  CHECK_MESSAGE(w.token_embedding(3, 5) == synth_value(s.start.at("token_embedding") + 3 * C + 5),
                "token_embedding row 3 col 5");
  CHECK_MESSAGE(w.layers[1].wk(2, 7) == synth_value(s.start.at("wk") + 1 * (D * C) + 2 * C + 7),
                "wk of layer 1 element (2, 7): layer split of the stacked wk");
  CHECK_MESSAGE(w.layers[1].wo(7, 3) == synth_value(s.start.at("wo") + 1 * (C * 2 * D) + 7 * (2 * D) + 3),
                "wo of layer 1 element (7, 3): wo is (C, H*D)");
  CHECK_MESSAGE(w.layers[0].w2(3, 15) == synth_value(s.start.at("w2") + 3 * F + 15),
                "w2 of layer 0 element (3, 15): w2 is (C, F)");
  CHECK_MESSAGE(w.rms_final(7) == synth_value(s.start.at("rms_final") + 7), "rms_final comes after w3");
  REQUIRE_MESSAGE(w.wcls.has_value(), "negative vocab_size: wcls must be loaded");
  CHECK_MESSAGE((w.wcls->shape() == llm::Shape{V, C}), "wcls is (V, C)");
  CHECK_MESSAGE((*w.wcls)(9, 7) == synth_value(s.start.at("wcls") + 9 * C + 7),
                "wcls comes after the two skipped freq_cis tables");
  CHECK_MESSAGE((*w.wcls)(0, 0) == synth_value(s.start.at("freq_cis_imag") + 4 * D / 2),
                "freq_cis tables (seq_len * head_size / 2 floats each) are skipped exactly");

  // Every element of every per-layer tensor, against the offset computed from the section layout.
  const LayerField fields[] = {{"rms_att", &LayerWeights::rms_att, C, 0},
                               {"wq", &LayerWeights::wq, 2 * D, C},
                               {"wk", &LayerWeights::wk, D, C},
                               {"wv", &LayerWeights::wv, D, C},
                               {"wo", &LayerWeights::wo, C, 2 * D},
                               {"rms_ffn", &LayerWeights::rms_ffn, C, 0},
                               {"w1", &LayerWeights::w1, F, C},
                               {"w2", &LayerWeights::w2, C, F},
                               {"w3", &LayerWeights::w3, F, C}};
  for (const LayerField& f : fields) {
    const Index per_layer = f.rows * (f.cols == 0 ? 1 : f.cols);
    for (size_t l = 0; l < 2; ++l) {
      const Tensor& t = w.layers[l].*f.field;
      const llm::Shape want_shape = f.cols == 0 ? llm::Shape{f.rows} : llm::Shape{f.rows, f.cols};
      REQUIRE_MESSAGE(t.shape() == want_shape,
                      f.name << " of layer " << l << " has shape " << t.shape().str());
      Index wrong = -1;
      for (Index i = 0; i < per_layer && wrong < 0; ++i)
        if (t.data()[i] != synth_value(s.start.at(f.name) + static_cast<std::uint64_t>(l) * per_layer + i))
          wrong = i;
      CHECK_MESSAGE(wrong == -1,
                    f.name << " of layer " << l << " differs from the file at flat index " << wrong);
    }
  }
}

TEST_CASE("checkpoint synthetic tied file has no classifier") {
  TempDir dir;
  const Synthetic s = make_synthetic(10);
  const Checkpoint ck = llm::load_checkpoint(dir.write("tied.bin", s.bytes));
  CHECK_MESSAGE(!ck.weights.wcls.has_value(), "positive vocab_size: no wcls");
  CHECK_MESSAGE(ck.config.tie_word_embeddings, "positive vocab_size: tied embeddings");
  CHECK_MESSAGE(ck.weights.rms_final(0) == synth_value(s.start.at("rms_final")),
                "rms_final of the tied file");
}

TEST_CASE("checkpoint expected_checkpoint_bytes uses 64-bit arithmetic") {
  CHECK_MESSAGE(llm::expected_checkpoint_bytes(CheckpointHeader{64, 172, 5, 8, 4, 512, 512}) == 1056540u,
                "size implied by the stories260K header");
  // Every field at its limit: far beyond 32 bits, and must not wrap.
  const CheckpointHeader huge{llm::kMaxCheckpointDim,     llm::kMaxCheckpointDim,
                              llm::kMaxCheckpointLayers,  llm::kMaxCheckpointDim / 2,
                              llm::kMaxCheckpointDim / 2, -llm::kMaxCheckpointVocab,
                              llm::kMaxCheckpointSeqLen};
  CHECK_MESSAGE(llm::expected_checkpoint_bytes(huge) > (std::uint64_t{1} << 40),
                "a maximal header implies more than 2^40 bytes (no 32-bit wrap-around)");
  CHECK_THROWS_AS(llm::expected_checkpoint_bytes(CheckpointHeader{}), FormatError);
}

TEST_CASE("checkpoint header validation names the bad field") {
  TempDir dir;
  const Synthetic base = make_synthetic(10);
  struct Case {
    const char* what;
    size_t field;  // index of the int32 header field
    std::int32_t value;
    const char* must_mention;
  };
  const Case cases[] = {
      {"n_layers = 1<<30", 2, 1 << 30, "1073741824"},
      {"negative dim", 0, -8, "-8"},
      {"zero hidden_dim", 1, 0, "hidden_dim"},
      {"n_heads not dividing dim", 3, 3, "n_heads = 3"},
      {"n_kv_heads not dividing n_heads", 4, 3, "n_kv_heads = 3"},
      {"odd head size", 3, 8, "head_size"},  // dim 8 / 8 heads = 1
      {"vocab INT_MIN", 5, INT_MIN, "vocab_size"},
      {"negative seq_len", 6, -4, "-4"},
  };
  for (const Case& c : cases) {
    INFO("corruption: " << std::string(c.what));
    std::string bytes = base.bytes;
    patch_i32(bytes, 4 * c.field, c.value);
    const std::string msg = load_error<FormatError>(dir.write("bad_header.bin", bytes));
    CHECK_MESSAGE(contains(msg, c.must_mention),
                  "message should mention '" << c.must_mention << "': " << msg);
  }
  // A consistent file whose vocabulary cannot hold EOS (id 2): caught by the config rules,
  // still reported as a bad file.
  const std::string msg = load_error<FormatError>(dir.write("vocab2.bin", make_synthetic(2).bytes));
  CHECK_MESSAGE(contains(msg, "eos_token_id"), "vocab_size 2 cannot hold EOS (id 2): " << msg);
}

TEST_CASE("checkpoint synthetic file size must match the header") {
  TempDir dir;
  const Synthetic s = make_synthetic(-10);
  const std::string full = std::to_string(s.bytes.size());
  std::string msg = load_error<FormatError>(dir.write("short.bin", s.bytes.substr(0, s.bytes.size() - 4)));
  CHECK_MESSAGE(contains(msg, full), "truncation message names the implied size " << full << ": " << msg);
  CHECK_MESSAGE(contains(msg, "truncated"), "truncation message says truncated: " << msg);
  msg = load_error<FormatError>(dir.write("long.bin", s.bytes + "xyz"));
  CHECK_MESSAGE(contains(msg, "3 trailing"), "trailing-bytes message counts them: " << msg);
}

TEST_CASE("checkpoint stories260K corrupt copies are refused" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  TempDir dir;
  const std::string good = llm::testing::read_file(files->checkpoint);
  REQUIRE_MESSAGE(good.size() == 1056540u, "test setup: stories260K.bin has its published size");

  std::string msg = load_error<FormatError>(dir.write("minus1.bin", good.substr(0, good.size() - 1)));
  CHECK_MESSAGE(contains(msg, "1056540"), "truncated by one byte: message names the implied size: " << msg);
  CHECK_MESSAGE(contains(msg, "1056539"), "truncated by one byte: message names the real size: " << msg);

  msg = load_error<FormatError>(dir.write("half_header.bin", good.substr(0, 10)));
  CHECK_MESSAGE(contains(msg, "10 bytes"), "10-byte file: message names the size: " << msg);

  msg = load_error<FormatError>(dir.write("empty.bin", ""));
  CHECK_MESSAGE(contains(msg, "0 bytes"), "empty file: message names the size: " << msg);

  msg = load_error<FormatError>(dir.write("garbage.bin", good + "garbage"));
  CHECK_MESSAGE(contains(msg, "7 trailing"), "trailing garbage: message counts 7 bytes: " << msg);
  CHECK_MESSAGE(contains(msg, "1056547"), "trailing garbage: message names the real size: " << msg);

  std::string layers = good;
  patch_i32(layers, 8, 1 << 30);
  msg = load_error<FormatError>(dir.write("layers.bin", layers));
  CHECK_MESSAGE(contains(msg, "1073741824"), "n_layers = 1<<30: message names the value: " << msg);

  std::string heads = good;
  patch_i32(heads, 12, 7);  // 64 % 7 != 0
  msg = load_error<FormatError>(dir.write("heads.bin", heads));
  CHECK_MESSAGE(contains(msg, "n_heads = 7"), "heads not dividing dim: message names n_heads: " << msg);

  std::string nan = good;
  patch_f32(nan, 28 + 4 * (512 * 64 + 5 * 64 + 17), std::numeric_limits<float>::quiet_NaN());  // wq layer 0
  msg = load_error<FormatError>(dir.write("nan.bin", nan));
  CHECK_MESSAGE(contains(msg, "wq of layer 0"), "NaN weight: message names the tensor: " << msg);

  msg = load_error<FormatError>(files->tokenizer);
  CHECK_MESSAGE(contains(msg, "hidden_dim = 0"),
                "tok512.bin as a checkpoint: its header is refused: " << msg);
}

TEST_CASE("checkpoint non-finite weights are refused") {
  TempDir dir;
  const Synthetic s = make_synthetic(-10);
  std::string bytes = s.bytes;
  patch_f32(bytes, synth_offset(s.start.at("w2") + 8 * 16 + 3), std::numeric_limits<float>::infinity());
  std::string msg = load_error<FormatError>(dir.write("inf.bin", bytes));
  CHECK_MESSAGE(contains(msg, "w2 of layer 1"), "inf in w2 layer 1: message names the tensor: " << msg);
  bytes = s.bytes;
  patch_f32(bytes, synth_offset(s.start.at("wcls")), std::numeric_limits<float>::quiet_NaN());
  msg = load_error<FormatError>(dir.write("nan.bin", bytes));
  CHECK_MESSAGE(contains(msg, "wcls"), "NaN in wcls: message names the tensor: " << msg);
  // The skipped RoPE tables are not weights we use: a NaN there is not worth refusing the file.
  bytes = s.bytes;
  patch_f32(bytes, synth_offset(s.start.at("freq_cis_real")), std::numeric_limits<float>::quiet_NaN());
  CHECK_NOTHROW(llm::load_checkpoint(dir.write("nan_freq.bin", bytes)));
}

TEST_CASE("checkpoint missing file and directory are IoError") {
  TempDir dir;
  const fs::path missing = dir.path() / "does_not_exist.bin";
  std::string msg = load_error<IoError>(missing);
  CHECK_MESSAGE(contains(msg, missing.string()), "missing file: message names the path: " << msg);
  msg = load_error<IoError>(dir.path());
  CHECK_MESSAGE(contains(msg, "directory"), "a directory is not a checkpoint: " << msg);
}
