// advanced_test.cpp — lesson 01's advanced suite: the real tok512 tokenizer against the ids of
// llama2.c's encoding rule, round trips (tok512, a tiny vocabulary, random bytes), the embedding as a
// one-hot product and on stories260K's table, the sinusoidal shift-is-a-rotation property, RoPE's
// relative-position property, its norms, composition, positions past the table, the RoPE tables stored
// in stories260K.bin, the relation between the two conventions, and every invalid argument.
// Not here: the hand-worked single cases of each step (basic_test.cpp); attention itself (lesson 02).
//
// Legend: B batch, T tokens, V vocab_size, C hidden_size, P positions, H heads, D head_dim.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "embedding.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "rope.h"
#include "test_support.h"
#include "test_vocab.h"
#include "tokenizer.h"

using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::RopeConvention;
using llm::RotaryEmbedding;
using llm::Shape;
using llm::ShapeError;
using llm::Tensor;
using llm::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

using lesson01_test::byte_id;
using lesson01_test::describe;
using lesson01_test::escaped;
using lesson01_test::tiny_vocab;
using lesson01_test::tok512_or_skip;
using llm::testing::contains;
using llm::testing::error_message;

// A head of n values drawn from rng, uniform in [-1, 1).
std::vector<float> random_head(llm::Rng& rng, Index n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

std::vector<float> rotated(const RotaryEmbedding& rope, std::vector<float> head, Index pos) {
  rope.rotate(head, pos);
  return head;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

constexpr RopeConvention kBothConventions[] = {RopeConvention::kAdjacentPairs, RopeConvention::kHalfSplit};

const char* name(RopeConvention c) {
  return c == RopeConvention::kAdjacentPairs ? "adjacent pairs" : "half split";
}

}  // namespace

// ================================================================================================
// The tokenizer on tok512
// ================================================================================================

TEST_CASE("step 2: tok512 encodes Once upon a time like llama2.c" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto tok = tok512_or_skip();
  if (!tok) return;
  // SOURCE.md's reference. The merges, best score first: " t" " a" "im" "on" " u" " O" " On" "ce" " up"
  // "ime" " time" " Once" " upon" (README 1.1 shows every round).
  const Ids with_bos = tok->encode("Once upon a time");
  CHECK_MESSAGE(with_bos == (Ids{1, 403, 407, 261, 378}),
                "[BOS, ' Once', ' upon', ' a', ' time'], got " << describe(with_bos));
  const Ids no_bos = tok->encode("Once upon a time", false);
  CHECK_MESSAGE(no_bos == (Ids{403, 407, 261, 378}), "bos = false drops only BOS, got " << describe(no_bos));
  const Ids with_eos = tok->encode("Once upon a time", true, true);
  CHECK_MESSAGE(with_eos == (Ids{1, 403, 407, 261, 378, 2}),
                "eos = true appends EOS (2), got " << describe(with_eos));
  CHECK_MESSAGE((tok->encode("") == Ids{1}), "empty text: BOS alone, no dummy-prefix space");
  const Ids space = tok->encode(" ", false);
  CHECK_MESSAGE(space == (Ids{410, 410}),
                "one space: the dummy prefix ' ' (410) plus the space itself, got " << describe(space));
}

TEST_CASE("step 2: tok512 encodes sentences to the ids of llama2.c's merge rule" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto tok = tok512_or_skip();
  if (!tok) return;
  // Computed with the reference and checked against a separate implementation of llama2.c's rule.
  const std::pair<std::string, Ids> cases[] = {
      {"Hello world", {1, 346, 306, 414, 263, 304, 341}},  // " He" "ll" "o" " w" "or" "ld": no " Hello" piece
      {"The cat sat on the mat.", {1, 291, 280, 294, 262, 294, 353, 265, 284, 294, 426}},
      {"Lily and Tom went to the park.", {1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433, 426}},
      {"don't", {1, 279, 289, 439, 413}},
      {"Lily's mom said, \"Lily, let's go to the park.\"",
       {1,   317, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278,
        316, 439, 419, 298, 414, 267, 265, 282, 295, 433, 426, 436}},
      {"One day, Timmy saw a big red ball!", {1, 385, 328, 432, 405, 394, 261, 370, 352, 266, 268, 388, 443}},
  };
  for (const auto& [text, want] : cases) {
    CAPTURE(text);
    const Ids got = tok->encode(text);
    CHECK_MESSAGE(got == want, "highest-score merges with the leftmost pair on ties: got "
                                   << describe(got) << ", want " << describe(want));
  }
}

TEST_CASE("step 2: a whole tok512 story encodes like the merge rule applied one pair at a time" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const Tokenizer tok = Tokenizer::load(files->tokenizer, 512);
  const std::string story = llm::testing::read_file(files->directory / "expected_greedy_t0_n200.txt");
  // The rule written as plainly as possible: the starting symbols (the story is ASCII, every character is
  // one symbol), then each round scans every pair and merges the best one, leftmost on ties.
  Ids syms = {*tok.find(" ")};
  for (unsigned char c : story) {
    REQUIRE_MESSAGE(c < 0x80, "test setup: the story is ASCII");
    const auto id = tok.find(std::string(1, static_cast<char>(c)));
    syms.push_back(id ? *id : byte_id(c));
  }
  for (;;) {
    std::int32_t best = -1;
    size_t at = 0;
    for (size_t k = 0; k + 1 < syms.size(); ++k) {
      const auto id = tok.find(tok.piece(syms[k]) + tok.piece(syms[k + 1]));
      if (id && (best < 0 || tok.score(*id) > tok.score(best))) best = *id, at = k;
    }
    if (best < 0) break;
    syms[at] = best;
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  const Ids got = tok.encode(story, false);
  REQUIRE_MESSAGE(got.size() == syms.size(),
                  "the story needs " << syms.size() << " tokens, encode gave " << got.size());
  for (size_t k = 0; k < got.size(); ++k) {
    CAPTURE(k);
    CHECK_MESSAGE(got[k] == syms[k], "token " << k << " should be '" << escaped(tok.piece(syms[k]))
                                              << "', got '" << escaped(tok.piece(got[k])) << "'");
    if (got[k] != syms[k]) break;  // one message is enough
  }
  // When encode stops, no two neighbours may form a piece: otherwise it stopped too early.
  for (size_t k = 0; k + 1 < got.size(); ++k) {
    CAPTURE(k);
    CHECK_MESSAGE(!tok.find(tok.piece(got[k]) + tok.piece(got[k + 1])),
                  "merging stops only when no adjacent pair is a piece");
  }
}

TEST_CASE("step 1: tok512 keeps the characters it has and spells the others in bytes" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto tok = tok512_or_skip();
  if (!tok) return;
  // bos = false and no pair below forms a piece, so these are exactly step 1's symbols.
  const Ids nihao = tok->encode("\xE4\xBD\xA0\xE5\xA5\xBD", false);  // 你好: E4 BD A0, E5 A5 BD
  CHECK_MESSAGE(
      nihao == (Ids{410, byte_id(0xE4), byte_id(0xBD), byte_id(0xA0), byte_id(0xE5), byte_id(0xA5),
                    byte_id(0xBD)}),
      "tok512 has no Chinese pieces: 你好 is its 6 UTF-8 bytes as byte tokens, got " << describe(nihao));
  const Ids e_acute = tok->encode("\xC3\xA9", false);
  CHECK_MESSAGE(e_acute == (Ids{410, 485}),
                "é (C3 A9) is a tok512 piece (485): one token, not two bytes, got " << describe(e_acute));
  const Ids quote = tok->encode("\xE2\x80\x9C", false);
  CHECK_MESSAGE(quote == (Ids{410, 465}),
                "the curly quote U+201C (3 bytes) is piece 465, got " << describe(quote));
  const Ids o_umlaut = tok->encode("\xC3\xB6", false);
  CHECK_MESSAGE(o_umlaut == (Ids{410, byte_id(0xC3), byte_id(0xB6)}),
                "ö (C3 B6) is not a piece: bytes 198 and 185, got " << describe(o_umlaut));
  const Ids invalid = tok->encode("\xFF\xFE\x80", false);
  CHECK_MESSAGE(
      invalid == (Ids{410, 258, 257, 131}),
      "bytes that are not UTF-8 (FF, FE, a stray 80) are byte tokens one by one, got " << describe(invalid));
}

TEST_CASE("step 3: tok512 round trips ASCII text with and without BOS" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto tok = tok512_or_skip();
  if (!tok) return;
  const std::string texts[] = {"Once upon a time",
                               "Lily and Tom went to the park. They saw a big red ball!",
                               "Hello, World! 1234567890",
                               "  two leading spaces and two trailing  ",
                               "tab\there\nnew line\r\n",
                               "#@^_{} are not single pieces in tok512",
                               "a",
                               " "};
  for (const std::string& text : texts) {
    CAPTURE(escaped(text));
    const std::string back = tok->decode(tok->encode(text));
    CHECK_MESSAGE(back == text,
                  "with BOS, decode drops the dummy-prefix space and the text comes back exactly, got '"
                      << escaped(back) << "'");
    const std::string raw = tok->decode(tok->encode(text, false));
    CHECK_MESSAGE(raw == " " + text,
                  "without BOS nothing marks the first space as the dummy prefix: it stays, got '"
                      << escaped(raw) << "'");
  }
}

TEST_CASE("step 3: tok512 round trips Chinese and other UTF-8 and invalid bytes" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto tok = tok512_or_skip();
  if (!tok) return;
  const std::string texts[] = {
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",  // 你好，世界
      "Lily \xE5\x96\x9C\xE6\xAC\xA2 the caf\xC3\xA9",                 // Lily 喜欢 the café
      "h\xC3\xA9llo w\xC3\xB6rld \xE2\x80\x9Cquoted\xE2\x80\x9D",      // héllo wörld “quoted”
      "a smile \xF0\x9F\x99\x82 emoji",                                // U+1F642, 4 bytes
      "\xFF\xFE abc",                                                  // never UTF-8
      std::string("a\x80") + "b",                                      // stray continuation byte
      "ab\xE6\x97",                                                    // 3-byte sequence cut short at the end
      "\xF0\x9F\x99 x",                                                // 4-byte sequence missing a byte
  };
  for (const std::string& text : texts) {
    CAPTURE(escaped(text));
    std::string back;
    REQUIRE_NOTHROW(back = tok->decode(tok->encode(text)));
    CHECK_MESSAGE(
        back == text,
        "byte fallback makes every byte string encodable, and <0xHH> decodes to that exact byte: got '"
            << escaped(back) << "'");
  }
}

TEST_CASE("step 3: decode_piece token by token prints what decode prints" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const Tokenizer tok = Tokenizer::load(files->tokenizer, 512);
  // What a streaming generator does: print decode_piece(previous, current) as each token arrives.
  const std::string story =
      llm::testing::read_file(files->directory / "expected_prompt_once_upon_a_time_t0_n64.txt");
  for (const std::string& text : {story, std::string("\xE4\xBD\xA0\xE5\xA5\xBD Lily")}) {
    CAPTURE(escaped(text));
    const Ids ids = tok.encode(text);
    std::string streamed;
    for (size_t i = 1; i < ids.size(); ++i) streamed += tok.decode_piece(ids[i - 1], ids[i]);
    CHECK_MESSAGE(streamed == tok.decode(ids),
                  "decode is decode_piece(previous id, id) concatenated, BOS printing nothing");
    CHECK_MESSAGE(streamed == text, "and both give the text back, got '" << escaped(streamed) << "'");
  }
}

// ================================================================================================
// The tokenizer on tiny vocabularies
// ================================================================================================

TEST_CASE("step 3: a tiny vocabulary with Chinese pieces merges and round trips") {
  // Ids: " " 259, 中 260, 文 261, 中文 262, " 中文" 263, a 264, b 265, ab 266.
  const Tokenizer tok = tiny_vocab({{" ", 0.0f},
                                    {"\xE4\xB8\xAD", 0.0f},
                                    {"\xE6\x96\x87", 0.0f},
                                    {"\xE4\xB8\xAD\xE6\x96\x87", 2.0f},
                                    {" \xE4\xB8\xAD\xE6\x96\x87", 1.0f},
                                    {"a", 0.0f},
                                    {"b", 0.0f},
                                    {"ab", 3.0f}});
  const Ids zhongwen = tok.encode("\xE4\xB8\xAD\xE6\x96\x87");  // 中文
  CHECK_MESSAGE(zhongwen == (Ids{1, 263}),
                "中 + 文 -> 中文 (2), then ' ' + 中文 -> ' 中文' (1): got " << describe(zhongwen));
  const Ids mixed = tok.encode("ab\xE4\xB8\xAD\xE5\xAD\x97");  // ab中字: 字 (E5 AD 97) is not a piece
  CHECK_MESSAGE(mixed == (Ids{1, 259, 266, 260, byte_id(0xE5), byte_id(0xAD), byte_id(0x97)}),
                "known characters merge, unknown ones stay bytes: got " << describe(mixed));
  const std::string texts[] = {"\xE4\xB8\xAD\xE6\x96\x87", "ab\xE4\xB8\xAD\xE5\xAD\x97",
                               "ab ab \xE4\xB8\xAD\xE6\x96\x87 ba", "ab\n\xE6\x96\x87\xE4\xB8\xAD",
                               "plain ASCII, not in this vocabulary"};
  for (const std::string& text : texts) {
    CAPTURE(escaped(text));
    const std::string back = tok.decode(tok.encode(text));
    CHECK_MESSAGE(back == text, "decode(encode(s)) == s with BOS, got '" << escaped(back) << "'");
  }
}

TEST_CASE("step 3: random byte strings round trip through a tiny vocabulary") {
  const Tokenizer tok = tiny_vocab({{" ", 0.0f},
                                    {"a", 0.0f},
                                    {"b", 0.0f},
                                    {"ab", 2.0f},
                                    {"ba", 2.0f},
                                    {" a", 1.0f},
                                    {"aba", 3.0f},
                                    {"\xC3\xA9", 0.0f},
                                    {"\xE4\xB8\xAD", 0.0f},
                                    {"a\xE4\xB8\xAD", 4.0f}});
  // Pieces of text to glue together at random: known pieces, unknown characters, and bytes that are not
  // UTF-8 on their own (a lead byte without its continuation, a lone continuation byte, 0xFF).
  const std::string parts[] = {
      "a",  "b",    " ",    "\xC3\xA9", "\xE4\xB8\xAD", "\xE5\xAD\x97", "z",
      "\n", "\xE4", "\x80", "\xFF",     "\xC3",         "ab",           "\xF0\x9F\x99\x82"};
  constexpr size_t kParts = sizeof parts / sizeof parts[0];
  llm::Rng rng(2024);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const std::uint64_t len = rng.next_u64() % 12;
    for (std::uint64_t k = 0; k < len; ++k) text += parts[rng.next_u64() % kParts];
    CAPTURE(trial);
    CAPTURE(escaped(text));
    std::string back;
    REQUIRE_NOTHROW(back = tok.decode(tok.encode(text)));
    REQUIRE_MESSAGE(back == text,
                    "decode(encode(s)) must give back every byte string, got '" << escaped(back) << "'");
  }
}

// ================================================================================================
// Embedding
// ================================================================================================

TEST_CASE("step 4: the lookup equals a one-hot row times the table") {
  llm::Rng rng(3);
  const Index V = 7, C = 5;
  const llm::Embedding emb = llm::Embedding::random(V, C, rng, 1.0f);  // weight (V, C)
  const IdTensor ids = llm::make_ids({{6, 0, 3, 3}, {1, 5, 2, 6}});    // (B, T) = (2, 4)
  const Tensor out = emb.forward(ids);                                 // (B, T, C)
  REQUIRE(out.shape() == Shape({2, 4, C}));
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 4; ++t)
      for (Index c = 0; c < C; ++c) {
        // (one_hot(id) @ W)[c] = sum over v of [v == id] * W[v][c]
        double sum = 0.0;
        for (Index v = 0; v < V; ++v) sum += (v == ids(b, t) ? 1.0 : 0.0) * (*emb.weight)(v, c);
        CAPTURE(b);
        CAPTURE(t);
        CAPTURE(c);
        CHECK_MESSAGE(out(b, t, c) == doctest::Approx(sum),
                      "an embedding is one-hot(id) times the table: row id");
      }
}

TEST_CASE("step 4: stories260K's prompt ids pick rows of its embedding table" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Embedding emb(ckpt.weights.token_embedding);            // (V, C) = (512, 64)
  const std::vector<std::int32_t> prompt = {1, 403, 407, 261, 378};  // BOS " Once" " upon" " a" " time"
  const Tensor x = emb.forward(llm::make_ids({prompt}));             // (1, 5, 64)
  REQUIRE(x.shape() == Shape({1, 5, 64}));
  for (size_t t = 0; t < prompt.size(); ++t)
    for (Index c = 0; c < 64; ++c) {
      CAPTURE(t);
      CAPTURE(c);
      CHECK_MESSAGE(x(0, static_cast<Index>(t), c) == ckpt.weights.token_embedding(prompt[t], c),
                    "token t's vector is row prompt[t] of the checkpoint's token_embedding, copied exactly");
    }
}

TEST_CASE("step 4: bad ids are refused with typed errors naming them") {
  const llm::Embedding emb(Tensor(Shape{5, 2}));  // V = 5
  for (const std::int32_t bad : {5, 9, -1}) {
    CAPTURE(bad);
    const IdTensor ids = llm::make_ids({{0, 1, 2}, {3, 4, bad}});
    const std::string msg = error_message<InvalidArgument>([&] { (void)emb.forward(ids); });
    CAPTURE(msg);
    CHECK_MESSAGE(contains(msg, std::to_string(bad)),
                  "an id outside [0, V) is an InvalidArgument naming the id");
    CHECK_MESSAGE(contains(msg, "5"), "the message names the vocabulary size V = 5 as the limit");
  }
  const std::string shape_msg = error_message<ShapeError>([&] { (void)emb.forward(IdTensor(Shape{3})); });
  CHECK_MESSAGE(!shape_msg.empty(), "ids must be (B, T): a rank-1 tensor is a ShapeError");
}

// ================================================================================================
// The sinusoidal encoding
// ================================================================================================

TEST_CASE("step 5: PE(pos + k) is a fixed rotation of PE(pos)") {
  // For pair i with angle a = pos * w and shift b = k * w:
  //   sin(a + b) = sin a cos b + cos a sin b,  cos(a + b) = cos a cos b - sin a sin b,
  // and (sin b, cos b) is row k of the table. So one 2x2 rotation per pair, read off PE(k), maps every
  // PE(pos) to PE(pos + k): a model can learn "k positions further" as a linear map.
  const Index P = 64, C = 16;
  const Tensor pe = llm::sinusoidal_positional_encoding(P, C);  // (P, C)
  REQUIRE(pe.shape() == Shape({P, C}));
  for (const Index k : {1, 5, 17}) {
    for (const Index pos : {0, 3, 20, 46}) {
      for (Index i = 0; i < C / 2; ++i) {
        const double sa = pe(pos, 2 * i), ca = pe(pos, 2 * i + 1);
        const double sb = pe(k, 2 * i), cb = pe(k, 2 * i + 1);
        CAPTURE(k);
        CAPTURE(pos);
        CAPTURE(i);
        CHECK_MESSAGE(pe(pos + k, 2 * i) == doctest::Approx(sa * cb + ca * sb).epsilon(1e-5),
                      "sin of pair i at pos + k = the rotation by PE(k) applied to PE(pos)");
        CHECK_MESSAGE(pe(pos + k, 2 * i + 1) == doctest::Approx(ca * cb - sa * sb).epsilon(1e-5),
                      "cos of pair i at pos + k = the rotation by PE(k) applied to PE(pos)");
      }
    }
  }
}

TEST_CASE("step 5: bad sizes or base are InvalidArgument naming the value") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    Index positions, dim;
    float base;
    const char* value;
  } cases[] = {{0, 4, 10000.0f, "0"},   {-3, 4, 10000.0f, "-3"}, {4, 7, 10000.0f, "7"}, {4, 0, 10000.0f, "0"},
               {4, -2, 10000.0f, "-2"}, {4, 4, 1.0f, "1"},       {4, 4, 0.5f, "0.5"},   {4, 4, nan, "nan"}};
  for (const auto& c : cases) {
    CAPTURE(c.positions);
    CAPTURE(c.dim);
    CAPTURE(c.base);
    const std::string msg = error_message<InvalidArgument>(
        [&] { (void)llm::sinusoidal_positional_encoding(c.positions, c.dim, c.base); });
    CAPTURE(msg);
    CHECK_MESSAGE(
        contains(msg, c.value),
        "positions <= 0, an odd or non-positive dim and a base not > 1 are InvalidArgument naming the value");
  }
}

// ================================================================================================
// RoPE: frequencies and table
// ================================================================================================

TEST_CASE("step 6: bad head_dim or theta is InvalidArgument naming the value") {
  const float inf = std::numeric_limits<float>::infinity();
  const struct {
    Index head_dim;
    float theta;
    const char* value;
  } cases[] = {{7, 10000.0f, "head_dim = 7"},
               {0, 10000.0f, "head_dim = 0"},
               {8, 0.0f, "theta = 0"},
               {8, -5.0f, "theta = -5"},
               {8, inf, "theta = inf"}};
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const std::string msg =
        error_message<InvalidArgument>([&] { (void)llm::rope_inverse_frequencies(c.head_dim, c.theta); });
    CAPTURE(msg);
    CHECK_MESSAGE(contains(msg, c.value),
                  "rope_inverse_frequencies checks its arguments first (check_rope_arguments)");
  }
}

TEST_CASE("step 7: the table matches the RoPE tables stored in stories260K.bin" * doctest::test_suite(llm::testing::kModelSuite)) {
  // A legacy llama2.c checkpoint ends with freq_cis_real and freq_cis_imag, (seq_len, D/2) each: cos and sin
  // of pos * 10000^(-2i/D), computed by PyTorch in float32 when the file was exported. The loader skips
  // them; here they check our table (measured agreement: 2.3e-6).
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const std::string bytes = llm::testing::read_file(files->checkpoint);
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::CheckpointHeader& h = ckpt.header;
  const std::uint64_t C = static_cast<std::uint64_t>(h.dim), F = static_cast<std::uint64_t>(h.hidden_dim),
                      L = static_cast<std::uint64_t>(h.n_layers), H = static_cast<std::uint64_t>(h.n_heads),
                      KV = static_cast<std::uint64_t>(h.n_kv_heads),
                      V = static_cast<std::uint64_t>(h.vocab_size), S = static_cast<std::uint64_t>(h.seq_len),
                      D = C / H;
  // Floats before the tables: embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final.
  const std::uint64_t before =
      V * C + L * C + L * C * H * D + 2 * L * C * KV * D + L * H * D * C + L * C + 3 * L * F * C + C;
  const std::uint64_t offset = 7 * 4 + 4 * before, table = S * D / 2;
  REQUIRE_MESSAGE(bytes.size() == offset + 2 * 4 * table,
                  "test setup: stories260K.bin ends with the two RoPE tables");
  std::vector<float> real(table), imag(table);
  std::memcpy(real.data(), bytes.data() + offset, 4 * table);
  std::memcpy(imag.data(), bytes.data() + offset + 4 * table, 4 * table);

  const RotaryEmbedding rope(static_cast<Index>(D), static_cast<Index>(S), 10000.0f);
  REQUIRE(rope.cos_table().shape() == Shape({static_cast<Index>(S), static_cast<Index>(D / 2)}));
  float worst = 0.0f;
  for (std::uint64_t k = 0; k < table; ++k) {
    worst = std::max(worst, std::fabs(rope.cos_table().flat()[k] - real[k]));
    worst = std::max(worst, std::fabs(rope.sin_table().flat()[k] - imag[k]));
  }
  CHECK_MESSAGE(worst < 1e-5f, "the table differs from the checkpoint's stored cos/sin by "
                                   << worst << ": cos/sin of pos * theta^(-2i/D)");
}

TEST_CASE("step 7: bad head_dim max_positions or theta are InvalidArgument naming the value") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    Index head_dim, max_positions;
    float theta;
    const char* value;
  } cases[] = {{3, 8, 10000.0f, "head_dim = 3"},
               {-2, 8, 10000.0f, "head_dim = -2"},
               {8, 0, 10000.0f, "max_positions = 0"},
               {8, 8, -1.0f, "theta = -1"},
               {8, 8, nan, "theta = nan"}};
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const std::string msg =
        error_message<InvalidArgument>([&] { RotaryEmbedding rope(c.head_dim, c.max_positions, c.theta); });
    CAPTURE(msg);
    CHECK_MESSAGE(contains(msg, c.value),
                  "the constructor checks its arguments first (check_rope_arguments)");
  }
}

// ================================================================================================
// RoPE: rotation properties
// ================================================================================================

TEST_CASE("step 8: q at m dotted with k at n depends only on m minus n") {
  // Pair i of q turns by m w_i, of k by n w_i; the dot product of two 2-vectors depends only on the angle
  // between them, which changes by (m - n) w_i. So q(m) . k(n) = q(m - n) . k(0), whatever m and n are.
  const Index D = 16;
  llm::Rng rng(11);
  const std::vector<float> q = random_head(rng, D), k = random_head(rng, D);
  for (const RopeConvention conv : kBothConventions) {
    CAPTURE(name(conv));
    const RotaryEmbedding rope(D, 64, 10000.0f, conv);
    const struct {
      Index m, n;
    } pairs[] = {{3, 0}, {10, 7},  {50, 47}, {63, 60},  {100, 97}, {1003, 1000},  // m - n = 3
                 {0, 5}, {20, 25}, {59, 64}, {300, 305}};                         // m - n = -5
    for (const auto& [m, n] : pairs) {
      CAPTURE(m);
      CAPTURE(n);
      const double score = dot(rotated(rope, q, m), rotated(rope, k, n));
      const double at_origin = m >= n ? dot(rotated(rope, q, m - n), k) : dot(q, rotated(rope, k, n - m));
      CHECK_MESSAGE(score == doctest::Approx(at_origin).epsilon(1e-4),
                    "RoPE's point: the attention score of q at m and k at n depends only on m - n");
    }
    const double d0 = dot(q, k), d3 = dot(rotated(rope, q, 3), k);
    CHECK_MESSAGE(std::fabs(d0 - d3) > 1e-2,
                  "and it does depend on m - n: a distance of 3 changes the score");
  }
}

TEST_CASE("step 8: rotation keeps every pair's length and rotations compose") {
  const Index D = 8;
  llm::Rng rng(5);
  const std::vector<float> x = random_head(rng, D);
  for (const RopeConvention conv : kBothConventions) {
    CAPTURE(name(conv));
    const RotaryEmbedding rope(D, 16, 10000.0f, conv);
    const Index stride = conv == RopeConvention::kAdjacentPairs ? 2 : 1,
                partner = conv == RopeConvention::kAdjacentPairs ? 1 : D / 2;
    for (const Index pos : {1, 7, 15, 16, 250}) {
      CAPTURE(pos);
      const std::vector<float> y = rotated(rope, x, pos);
      for (Index i = 0; i < D / 2; ++i) {
        const auto a = static_cast<size_t>(i * stride), b = static_cast<size_t>(i * stride + partner);
        CAPTURE(i);
        CHECK_MESSAGE(
            std::hypot(y[a], y[b]) == doctest::Approx(std::hypot(x[a], x[b])).epsilon(1e-5),
            "a rotation keeps the length of each pair (a wrong sign or a missing cos term changes it)");
      }
    }
    for (const auto& [m, n] : {std::pair<Index, Index>{2, 3}, {9, 9}, {12, 30}}) {
      CAPTURE(m);
      CAPTURE(n);
      const std::vector<float> twice = rotated(rope, rotated(rope, x, m), n), once = rotated(rope, x, m + n);
      for (size_t d = 0; d < x.size(); ++d) {
        CAPTURE(d);
        CHECK_MESSAGE(twice[d] == doctest::Approx(once[d]).epsilon(1e-5),
                      "rotating by m then by n is rotating by m + n: angles add");
      }
    }
  }
}

TEST_CASE("step 8: positions past the table equal what a longer table gives") {
  const Index D = 16;
  llm::Rng rng(8);
  const std::vector<float> x = random_head(rng, D);
  for (const RopeConvention conv : kBothConventions) {
    CAPTURE(name(conv));
    const RotaryEmbedding small(D, 4, 10000.0f, conv), big(D, 2048, 10000.0f, conv);
    for (const Index pos : {3, 4, 5, 100, 2047}) {
      CAPTURE(pos);
      const std::vector<float> a = rotated(small, x, pos), b = rotated(big, x, pos);
      for (size_t d = 0; d < x.size(); ++d) {
        CAPTURE(d);
        CHECK_MESSAGE(a[d] == doctest::Approx(b[d]).epsilon(1e-4),
                      "the table is a cache, not a limit: past max_positions compute cos/sin of pos * "
                      "inv_freq on the spot");
      }
    }
    // Far away, against the formula in double: angles must be computed in double. In float, pos * inv_freq
    // at position 100000 is off by up to 7e-4 radian here (D = 16), several times the tolerance below.
    const Index far = 100000;
    const std::vector<float> y = rotated(small, x, far);
    const std::vector<double> inv = llm::rope_inverse_frequencies(D, 10000.0f);
    const Index stride = conv == RopeConvention::kAdjacentPairs ? 2 : 1,
                partner = conv == RopeConvention::kAdjacentPairs ? 1 : D / 2;
    for (Index i = 0; i < D / 2; ++i) {
      const auto a = static_cast<size_t>(i * stride), b = static_cast<size_t>(i * stride + partner);
      const double angle = static_cast<double>(far) * inv[static_cast<size_t>(i)];
      CAPTURE(i);
      CHECK_MESSAGE(y[a] == doctest::Approx(x[a] * std::cos(angle) - x[b] * std::sin(angle)).epsilon(1e-4),
                    "position 100000: compute the angle pos * inv_freq in double");
      CHECK_MESSAGE(y[b] == doctest::Approx(x[a] * std::sin(angle) + x[b] * std::cos(angle)).epsilon(1e-4),
                    "position 100000: compute the angle pos * inv_freq in double");
    }
  }
}

TEST_CASE("step 8: a negative position is InvalidArgument and a wrong head size a ShapeError") {
  const RotaryEmbedding rope(8, 16, 10000.0f);
  std::vector<float> head(8, 1.0f);
  const std::string msg = error_message<InvalidArgument>([&] { rope.rotate(head, -1); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative position is an InvalidArgument naming it, got: " << msg);
  CHECK_MESSAGE(head == std::vector<float>(8, 1.0f), "a refused call leaves the head unchanged");
  std::vector<float> short_head(6, 1.0f);
  const std::string shape_msg = error_message<ShapeError>([&] { rope.rotate(short_head, 2); });
  CHECK_MESSAGE(contains(shape_msg, "6"),
                "a head that is not D values is a ShapeError naming its size, got: " << shape_msg);
}

TEST_CASE("step 8: apply rotates every head of every token by its own position") {
  // x is (B, T, H * D) with H = 2 heads of D = 4; apply (given) calls rotate on each head.
  const Index B = 2, T = 3, H = 2, D = 4;
  llm::Rng rng(21);
  Tensor x(Shape{B, T, H * D});  // (B, T, H * D)
  for (float& v : x.flat()) v = 2.0f * rng.uniform() - 1.0f;
  const IdTensor positions = llm::make_ids({{0, 1, 2}, {7, 3, 40}});  // (B, T); 40 is past the table
  const RotaryEmbedding rope(D, 16, 100.0f);
  Tensor y = x;
  rope.apply(y, positions, H);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t)
      for (Index h = 0; h < H; ++h) {
        std::vector<float> head(x.row(b, t).begin() + h * D, x.row(b, t).begin() + (h + 1) * D);
        rope.rotate(head, positions(b, t));
        for (Index d = 0; d < D; ++d) {
          CAPTURE(b);
          CAPTURE(t);
          CAPTURE(h);
          CAPTURE(d);
          CHECK_MESSAGE(
              y(b, t, h * D + d) == doctest::Approx(head[static_cast<size_t>(d)]),
              "each head of token (b, t) turns by positions[b][t], independently of the other heads");
        }
      }
}

// ================================================================================================
// RoPE: the two conventions
// ================================================================================================

TEST_CASE("step 9: rotating P x half-split equals P times x rotated adjacent") {
  llm::Rng rng(13);
  for (const Index D : {2, 8, 16}) {
    CAPTURE(D);
    const RotaryEmbedding adjacent(D, 32, 10000.0f, RopeConvention::kAdjacentPairs);
    const RotaryEmbedding half(D, 32, 10000.0f, RopeConvention::kHalfSplit);
    const std::vector<float> x = random_head(rng, D);
    for (const Index pos : {0, 1, 5, 31, 100}) {
      CAPTURE(pos);
      const std::vector<float> lhs = rotated(half, llm::adjacent_to_half_split(x), pos);
      const std::vector<float> rhs = llm::adjacent_to_half_split(rotated(adjacent, x, pos));
      for (size_t d = 0; d < lhs.size(); ++d) {
        CAPTURE(d);
        CHECK_MESSAGE(
            lhs[d] == doctest::Approx(rhs[d]).epsilon(1e-5),
            "rotate_half_split(P x) = P rotate_adjacent(x): P moves adjacent pair i onto half-split pair i");
      }
    }
    // The conventions really differ: without P the results are not the same.
    const std::vector<float> plain = rotated(half, x, 5), adj = rotated(adjacent, x, 5);
    if (D > 2)
      CHECK_MESSAGE(plain != adj, "the same head rotated in the two conventions gives different vectors");
  }
}

TEST_CASE("step 9: permuting Wq and Wk rows per head keeps every attention score") {
  // How checkpoints are converted: q = Wq x is H heads of D. Permuting the rows of each head block of Wq and
  // Wk by P makes every head P q, so half-split attention on the permuted weights scores exactly like
  // adjacent attention on the original ones (P is a permutation: (P a) . (P b) = a . b).
  const Index C = 12, H = 2, D = 6;
  llm::Rng rng(17);
  std::vector<std::vector<float>> wq(static_cast<size_t>(H * D)),
      wk(static_cast<size_t>(H * D));  // rows (H * D) of (C)
  for (auto& row : wq) row = random_head(rng, C);
  for (auto& row : wk) row = random_head(rng, C);
  // The row order of one head under P: adjacent_to_half_split of the indices 0..D-1.
  std::vector<float> index(static_cast<size_t>(D));
  for (Index d = 0; d < D; ++d) index[static_cast<size_t>(d)] = static_cast<float>(d);
  const std::vector<float> order = llm::adjacent_to_half_split(index);
  auto permuted = [&](const std::vector<std::vector<float>>& w) {
    std::vector<std::vector<float>> out(w.size());
    for (Index h = 0; h < H; ++h)
      for (Index d = 0; d < D; ++d)
        out[static_cast<size_t>(h * D + d)] =
            w[static_cast<size_t>(h * D + static_cast<Index>(order[static_cast<size_t>(d)]))];
    return out;
  };
  auto head = [&](const std::vector<std::vector<float>>& w, const std::vector<float>& x, Index h) {  // (D)
    std::vector<float> out(static_cast<size_t>(D));
    for (Index d = 0; d < D; ++d)
      out[static_cast<size_t>(d)] = static_cast<float>(dot(w[static_cast<size_t>(h * D + d)], x));
    return out;
  };
  const auto wq_hf = permuted(wq), wk_hf = permuted(wk);
  const RotaryEmbedding adjacent(D, 16, 10000.0f, RopeConvention::kAdjacentPairs);
  const RotaryEmbedding half(D, 16, 10000.0f, RopeConvention::kHalfSplit);
  const std::vector<float> x_m = random_head(rng, C), x_n = random_head(rng, C);  // two tokens' hidden states
  for (const auto& [m, n] : {std::pair<Index, Index>{4, 1}, {9, 9}, {2, 30}}) {
    for (Index h = 0; h < H; ++h) {
      CAPTURE(m);
      CAPTURE(n);
      CAPTURE(h);
      const double original =
          dot(rotated(adjacent, head(wq, x_m, h), m), rotated(adjacent, head(wk, x_n, h), n));
      const double converted =
          dot(rotated(half, head(wq_hf, x_m, h), m), rotated(half, head(wk_hf, x_n, h), n));
      CHECK_MESSAGE(converted == doctest::Approx(original).epsilon(1e-4),
                    "half-split RoPE on per-head-permuted Wq/Wk gives the adjacent-pair attention scores");
    }
  }
}

TEST_CASE("step 9: a head of odd or zero size is InvalidArgument") {
  for (const size_t n : {size_t{0}, size_t{3}, size_t{7}}) {
    CAPTURE(n);
    const std::vector<float> head(n, 1.0f);
    const std::string msg = error_message<InvalidArgument>([&] { (void)llm::adjacent_to_half_split(head); });
    CHECK_MESSAGE(contains(msg, std::to_string(n)),
                  "a head must hold pairs: an odd or empty size is refused, naming it");
  }
}
