// basic_test.cpp — lesson 01's basic suite: each step on small inputs whose answer you can work out by
// hand — tiny vocabularies built with Tokenizer::from_pieces, a 3-row embedding table, 4-dimensional
// sinusoidal and rotary encodings. Not here: the real tok512 tokenizer, properties over many inputs
// (round trips, RoPE's relative positions, the relation between the conventions), positions past the
// table and invalid arguments — those are in advanced_test.cpp.
//
// Legend: B batch, T tokens, V vocab_size, C hidden_size, P positions, D head_dim.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "embedding.h"
#include "llm/errors.h"
#include "llm/tensor.h"
#include "rope.h"
#include "test_support.h"
#include "test_vocab.h"
#include "tokenizer.h"

using llm::IdTensor;
using llm::Index;
using llm::RopeConvention;
using llm::RotaryEmbedding;
using llm::Shape;
using llm::Tensor;
using llm::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

using lesson01_test::byte_id;
using lesson01_test::describe;
using lesson01_test::tiny_vocab;

// Pieces whose pairs never form a piece, so encode() has nothing to merge: what comes out is exactly
// the step 1 symbols. Ids: " " 259, "a" 260, "b" 261, "c" 262, "é" 263, "中" 264.
Tokenizer single_symbol_vocab() {
  return tiny_vocab(
      {{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"c", 0.0f}, {"\xC3\xA9", 0.0f}, {"\xE4\xB8\xAD", 0.0f}});
}
constexpr std::int32_t kSpace = 259, kA = 260, kB = 261, kC = 262, kEAcute = 263, kZhong = 264;

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: the starting symbols (dummy prefix, UTF-8 code points, byte fallback)
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: each character becomes its piece after a dummy-prefix space") {
  const Tokenizer tok = single_symbol_vocab();
  const Ids abc = tok.encode("abc", /*bos=*/false);
  CHECK_MESSAGE(abc == (Ids{kSpace, kA, kB, kC}),
                "non-empty text starts with the dummy-prefix piece ' ', then one id per character: got "
                    << describe(abc));
  const Ids spaced = tok.encode("a b", false);
  CHECK_MESSAGE(spaced == (Ids{kSpace, kA, kSpace, kB}),
                "a space inside the text is a character like any other: got " << describe(spaced));
  CHECK_MESSAGE(tok.encode("", false).empty(), "empty text gets no dummy prefix: nothing at all");
}

TEST_CASE("step 1: a multi-byte character that is a piece stays one symbol") {
  const Tokenizer tok = single_symbol_vocab();
  // é is 2 UTF-8 bytes (C3 A9), 中 is 3 (E4 B8 AD); both are pieces of this vocabulary.
  const Ids ids = tok.encode("a\xC3\xA9\xE4\xB8\xAD", false);
  CHECK_MESSAGE(
      ids == (Ids{kSpace, kA, kEAcute, kZhong}),
      "look up whole UTF-8 code points (utf8_length bytes), not single bytes: got " << describe(ids));
}

TEST_CASE("step 1: a character missing from the vocabulary becomes its UTF-8 bytes") {
  const Tokenizer tok = single_symbol_vocab();
  // z (7A) is one byte; ö is C3 B6; 文 is E6 96 87. None is a piece: byte b becomes id b + 3.
  const Ids ids = tok.encode("z\xC3\xB6\xE6\x96\x87", false);
  const Ids want = {kSpace,        byte_id(0x7A), byte_id(0xC3), byte_id(0xB6),
                    byte_id(0xE6), byte_id(0x96), byte_id(0x87)};
  CHECK_MESSAGE(ids == want,
                "byte fallback: every byte of an unknown character is its <0xHH> token (id byte + 3): got "
                    << describe(ids));
}

TEST_CASE("step 1: bytes that are not valid UTF-8 become byte tokens one at a time") {
  const Tokenizer tok = single_symbol_vocab();
  const Ids ff = tok.encode("\xFF", false);
  CHECK_MESSAGE(ff == (Ids{kSpace, byte_id(0xFF)}),
                "0xFF never occurs in UTF-8: byte token 258: got " << describe(ff));
  const Ids stray = tok.encode(std::string("a\x80") + "b", false);
  CHECK_MESSAGE(
      stray == (Ids{kSpace, kA, byte_id(0x80), kB}),
      "a stray continuation byte is its own byte token, the letters around it stay: got " << describe(stray));
  const Ids cut = tok.encode(std::string("\xE4\xB8") + "a", false);
  CHECK_MESSAGE(
      cut == (Ids{kSpace, byte_id(0xE4), byte_id(0xB8), kA}),
      "a truncated sequence (中 without its last byte) falls back byte by byte: got " << describe(cut));
  // é followed by a stray continuation byte: utf8_length says é is 2 bytes, so 0x80 is not glued to it.
  const Ids glued = tok.encode("\xC3\xA9\x80", false);
  CHECK_MESSAGE(
      glued == (Ids{kSpace, kEAcute, byte_id(0x80)}),
      "a code point is exactly utf8_length bytes; extra continuation bytes after it are separate: got "
          << describe(glued));
}

TEST_CASE("step 1: the dummy prefix falls back to byte 0x20 when space is not a piece") {
  const Tokenizer tok = tiny_vocab({{"a", 0.0f}});  // no " " piece; "a" is 259
  const Ids ids = tok.encode("a", false);
  CHECK_MESSAGE(
      ids == (Ids{byte_id(0x20), 259}),
      "the dummy prefix is a symbol like any other: without a ' ' piece it is byte token <0x20>: got "
          << describe(ids));
}

TEST_CASE("step 1: without byte pieces an unknown character is unk") {
  const Tokenizer tok =
      Tokenizer::from_pieces({"<unk>", "<s>", "</s>", " ", "a"}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
  REQUIRE_FALSE(tok.has_byte_fallback());
  const Ids ids = tok.encode("az", false);
  CHECK_MESSAGE(
      ids == (Ids{3, 4, Tokenizer::kUnk}),
      "a vocabulary without <0x00>..<0xFF> maps an unknown byte to <unk> (id 0): got " << describe(ids));
}

// ------------------------------------------------------------------------------------------------
// Step 2: merges by score, BOS and EOS
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: repeated merges build a whole word") {
  // " h e l l o": the best pair each round is he (4), then ll (3), then hell (2), then hello (1),
  // then " hello" (0.5). "lo" (-1) would only win if nothing better were left.
  const Tokenizer tok = tiny_vocab({{" ", 0.0f},
                                    {"h", 0.0f},
                                    {"e", 0.0f},
                                    {"l", 0.0f},
                                    {"o", 0.0f},
                                    {"he", 4.0f},
                                    {"ll", 3.0f},
                                    {"hell", 2.0f},
                                    {"hello", 1.0f},
                                    {" hello", 0.5f},
                                    {"lo", -1.0f}});
  const std::int32_t space_hello = 268;
  const Ids one = tok.encode("hello", false);
  CHECK_MESSAGE(one == (Ids{space_hello}),
                "merge until no adjacent pair is a piece: five merges make ' hello': got " << describe(one));
  const Ids two = tok.encode("hello hello", false);
  CHECK_MESSAGE(two == (Ids{space_hello, space_hello}),
                "the space before the second word merges like the dummy prefix: got " << describe(two));
}

TEST_CASE("step 2: the best-scoring pair merges first wherever it is") {
  // "abc" has two candidate pairs, ab and bc. Whichever scores higher wins — not the leftmost one, and not
  // the one with the lower id (merges are ordered by score here, not by a merges list).
  const Tokenizer right_wins =
      tiny_vocab({{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"c", 0.0f}, {"ab", 1.0f}, {"bc", 5.0f}});
  const Ids r = right_wins.encode("abc", false);
  CHECK_MESSAGE(r == (Ids{259, 260, 264}),
                "bc (score 5) beats ab (score 1) although ab is further left and has the lower id: got "
                    << describe(r));
  const Tokenizer left_wins =
      tiny_vocab({{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"c", 0.0f}, {"bc", 1.0f}, {"ab", 5.0f}});
  const Ids l = left_wins.encode("abc", false);
  CHECK_MESSAGE(l == (Ids{259, 264, 262}),
                "ab (score 5) beats bc (score 1) although bc has the lower id: got " << describe(l));
}

TEST_CASE("step 2: on a score tie the leftmost pair merges") {
  // "aba": ab and ba both score 3. Leftmost wins: [ab][a]. Right to left would give [a][ba].
  const Tokenizer tok = tiny_vocab({{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"ab", 3.0f}, {"ba", 3.0f}});
  const Ids ids = tok.encode("aba", false);
  CHECK_MESSAGE(ids == (Ids{259, 262, 260}),
                "ties go to the leftmost pair (compare scores with >, not >=): got " << describe(ids));
}

TEST_CASE("step 2: after a merge its new neighbours are looked at again") {
  // "abcd": pairs ab (no piece), bc (3), cd (2). Round 1 merges bc -> [a][bc][d]. Now a+bc = "abc" (4) is a
  // new candidate and wins round 2 -> [abc][d]. A single pass over the first round's pairs would stop at
  // [a][bc][d] (cd is gone once c is inside bc).
  const Tokenizer tok = tiny_vocab({{" ", 0.0f},
                                    {"a", 0.0f},
                                    {"b", 0.0f},
                                    {"c", 0.0f},
                                    {"d", 0.0f},
                                    {"bc", 3.0f},
                                    {"abc", 4.0f},
                                    {"cd", 2.0f}});
  const std::int32_t space = 259, d = 263, abc = 265;
  const Ids ids = tok.encode("abcd", false);
  CHECK_MESSAGE(ids == (Ids{space, abc, d}),
                "BPE repeats 'find the best pair, merge it' until no pair is a piece: got " << describe(ids));
}

TEST_CASE("step 2: BOS goes in front and EOS at the end and neither takes part in merges") {
  // The vocabulary holds pieces that would swallow BOS or EOS if they were merged with the text:
  // BOS + " " and "b" + EOS both score 10. They must stay unused.
  const Tokenizer tok = tiny_vocab(
      {{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"ab", 1.0f}, {"\n<s>\n ", 10.0f}, {"b\n</s>\n", 10.0f}});
  const std::int32_t space = 259, ab = 262;
  const Ids both = tok.encode("ab", /*bos=*/true, /*eos=*/true);
  CHECK_MESSAGE(
      both == (Ids{Tokenizer::kBos, space, ab, Tokenizer::kEos}),
      "BOS (1) and EOS (2) are added around the merged text, not merged into it: got " << describe(both));
  const Ids bos_only = tok.encode("ab");
  CHECK_MESSAGE(bos_only == (Ids{Tokenizer::kBos, space, ab}),
                "bos defaults to true, eos to false: got " << describe(bos_only));
  CHECK_MESSAGE((tok.encode("", true, true) == Ids{Tokenizer::kBos, Tokenizer::kEos}),
                "empty text with BOS and EOS: just the two control tokens");
  CHECK_MESSAGE((tok.encode("", false, true) == Ids{Tokenizer::kEos}), "empty text with EOS only: [2]");
}

// ------------------------------------------------------------------------------------------------
// Step 3: decoding
// ------------------------------------------------------------------------------------------------

namespace {
// Ids: " " 259, " hi" 260.
Tokenizer decode_vocab() { return tiny_vocab({{" ", 0.0f}, {" hi", 1.0f}, {"h", 0.0f}, {"i", 0.0f}}); }
constexpr std::int32_t kBareSpace = 259, kSpaceHi = 260;
}  // namespace

TEST_CASE("step 3: decode_piece drops a leading space only right after BOS") {
  const Tokenizer tok = decode_vocab();
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, kSpaceHi) == "hi",
                "after BOS the leading space is the dummy prefix: drop it");
  CHECK_MESSAGE(tok.decode_piece(kSpaceHi, kSpaceHi) == " hi",
                "after an ordinary token the space is real text: keep it");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kEos, kSpaceHi) == " hi",
                "only BOS drops the space, EOS does not");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, kBareSpace) == "",
                "the bare dummy-prefix piece after BOS prints nothing");
}

TEST_CASE("step 3: byte pieces decode to the raw byte") {
  const Tokenizer tok = decode_vocab();
  CHECK_MESSAGE(tok.decode_piece(kSpaceHi, byte_id(0x0A)) == "\n",
                "<0x0A> is a newline character, not the text '<0x0A>'");
  CHECK_MESSAGE(tok.decode_piece(kSpaceHi, byte_id(0xFF)) == std::string(1, '\xFF'),
                "<0xFF> is the single byte 0xFF");
  CHECK_MESSAGE(tok.decode_piece(kSpaceHi, byte_id(0x00)) == std::string(1, '\0'),
                "<0x00> is one zero byte (a std::string of size 1), not an empty string");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, byte_id(0x20)) == " ",
                "<0x20> is a space byte, not a leading space of a piece: it stays even after BOS");
}

TEST_CASE("step 3: decode joins the pieces and prints nothing for BOS") {
  const Tokenizer tok = decode_vocab();
  CHECK_MESSAGE(tok.decode(Ids{Tokenizer::kBos, kSpaceHi, kSpaceHi}) == "hi hi",
                "BOS prints nothing and drops the next piece's leading space");
  CHECK_MESSAGE(tok.decode(Ids{kSpaceHi, kSpaceHi}) == " hi hi", "without BOS the first space stays");
  CHECK_MESSAGE(tok.decode(Ids{Tokenizer::kBos, kSpaceHi, Tokenizer::kBos, kSpaceHi}) == "hihi",
                "each BOS, also in the middle, prints nothing and drops the following space");
  CHECK_MESSAGE(tok.decode(Ids{}).empty(), "no ids, no text");
}

TEST_CASE("step 3: a character split into byte tokens decodes back to the character") {
  const Tokenizer tok = decode_vocab();
  // 中 = E4 B8 AD, é = C3 A9, after BOS and the dummy prefix.
  const Ids ids = {Tokenizer::kBos, kBareSpace,    byte_id(0xE4), byte_id(0xB8),
                   byte_id(0xAD),   byte_id(0xC3), byte_id(0xA9)};
  CHECK_MESSAGE(tok.decode(ids) == "\xE4\xB8\xAD\xC3\xA9",
                "byte tokens are concatenated as raw bytes, so the UTF-8 sequence comes back whole");
}

// ------------------------------------------------------------------------------------------------
// Step 4: embedding lookup
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: each id selects its row of the table") {
  // table (V = 3, C = 2): row v = {10 v, 10 v + 1}.
  const llm::Embedding emb(Tensor(Shape{3, 2}, std::vector<float>{0, 1, 10, 11, 20, 21}));
  const IdTensor ids = llm::make_ids({{2, 0, 1}, {1, 1, 2}});  // (B, T) = (2, 3)
  const Tensor out = emb.forward(ids);                         // (B, T, C)
  REQUIRE_MESSAGE(out.shape() == Shape({2, 3, 2}),
                  "(B, T) ids give a (B, T, C) tensor, got " << out.shape().str());
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 3; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      const float id = static_cast<float>(ids(b, t));
      CHECK_MESSAGE(out(b, t, 0) == 10.0f * id, "out[b][t] must be row ids[b][t] of the table");
      CHECK_MESSAGE(out(b, t, 1) == 10.0f * id + 1.0f, "out[b][t] must be row ids[b][t] of the table");
    }
}

// ------------------------------------------------------------------------------------------------
// Step 5: the sinusoidal positional encoding
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 5: hand values of a 3 by 4 sinusoidal table") {
  // C = 4: pair 0 turns 1 radian per position, pair 1 turns 10000^(-2/4) = 0.01 radian per position.
  const Tensor pe = llm::sinusoidal_positional_encoding(3, 4);  // (P, C)
  REQUIRE_MESSAGE(pe.shape() == Shape({3, 4}), "the table is (positions, dim)");
  const float want[3][4] = {
      {0.0f, 1.0f, 0.0f, 1.0f},                            // sin 0, cos 0, sin 0, cos 0
      {0.8414710f, 0.5403023f, 0.0099998f, 0.9999500f},    // sin 1, cos 1, sin .01, cos .01
      {0.9092974f, -0.4161468f, 0.0199987f, 0.9998000f}};  // sin 2, cos 2, sin .02, cos .02
  for (Index p = 0; p < 3; ++p)
    for (Index c = 0; c < 4; ++c) {
      CAPTURE(p);
      CAPTURE(c);
      CHECK_MESSAGE(pe(p, c) == doctest::Approx(want[p][c]).epsilon(1e-5),
                    "pe[pos][2i] = sin(pos / 10000^(2i/C)), pe[pos][2i+1] = cos(the same angle)");
    }
}

TEST_CASE("step 5: sine on even dimensions and cosine on odd ones of the same angle") {
  const Index P = 6, C = 10;
  const Tensor pe = llm::sinusoidal_positional_encoding(P, C);
  REQUIRE(pe.shape() == Shape({P, C}));
  for (Index c = 0; c < C; ++c) {
    CAPTURE(c);
    CHECK_MESSAGE(
        pe(0, c) == (c % 2 == 0 ? 0.0f : 1.0f),
        "position 0: sin 0 = 0 on even dimensions, cos 0 = 1 on odd ones (interleaved, not two halves)");
  }
  for (Index p = 0; p < P; ++p)
    for (Index i = 0; i < C / 2; ++i) {
      CAPTURE(p);
      CAPTURE(i);
      const float s = pe(p, 2 * i), co = pe(p, 2 * i + 1);
      CHECK_MESSAGE(s * s + co * co == doctest::Approx(1.0f),
                    "dimensions 2i and 2i+1 are sin and cos of one angle, so their squares add up to 1");
    }
}

TEST_CASE("step 5: pair i turns at frequency base to the power of minus 2i over C") {
  // C = 8, base 100: frequencies 100^(-0/8) = 1, 100^(-2/8) = 0.3162278, 100^(-4/8) = 0.1, 100^(-6/8) =
  // 0.0316228.
  const Tensor pe = llm::sinusoidal_positional_encoding(4, 8, 100.0f);
  REQUIRE(pe.shape() == Shape({4, 8}));
  const double freq[4] = {1.0, 0.3162278, 0.1, 0.0316228};
  for (Index pos = 1; pos < 4; ++pos)
    for (Index i = 0; i < 4; ++i) {
      CAPTURE(pos);
      CAPTURE(i);
      // The angle of pair i at pos, recovered from its sin and cos (all angles here are below pi).
      const double angle = std::atan2(pe(pos, 2 * i), pe(pos, 2 * i + 1));
      CHECK_MESSAGE(angle == doctest::Approx(static_cast<double>(pos) * freq[i]).epsilon(1e-5),
                    "the angle of pair i is pos * base^(-2i/C): use 2i (not i) and the base argument");
    }
}

// ------------------------------------------------------------------------------------------------
// Step 6: RoPE's inverse frequencies
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 6: inverse frequencies are theta to the power of minus 2i over D") {
  const std::vector<double> f = llm::rope_inverse_frequencies(8, 10000.0f);
  REQUIRE_MESSAGE(f.size() == 4u, "one frequency per pair: D/2 of them");
  const double want[4] = {1.0, 0.1, 0.01, 0.001};  // 10000^(-0/8), ^(-2/8), ^(-4/8), ^(-6/8)
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(f[i] == doctest::Approx(want[i]).epsilon(1e-12),
                  "inv_freq[i] = theta^(-2i/D), computed in double");
  }
  const std::vector<double> g = llm::rope_inverse_frequencies(4, 100.0f);
  REQUIRE(g.size() == 2u);
  CHECK_MESSAGE(g[1] == doctest::Approx(0.1).epsilon(1e-12), "theta is a parameter: 100^(-2/4) = 0.1");
}

// ------------------------------------------------------------------------------------------------
// Step 7: the cos/sin table
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 7: the table holds cos and sin of position times frequency") {
  // D = 4, theta = 100: frequencies {1, 0.1}; 3 positions.
  const RotaryEmbedding rope(4, 3, 100.0f, RopeConvention::kHalfSplit);
  CHECK_MESSAGE(rope.head_dim() == 4, "the constructor stores head_dim");
  CHECK_MESSAGE(rope.max_positions() == 3, "the constructor stores max_positions");
  CHECK_MESSAGE(rope.theta() == 100.0f, "the constructor stores theta");
  CHECK_MESSAGE(rope.convention() == RopeConvention::kHalfSplit, "the constructor stores the convention");
  const Tensor& c = rope.cos_table();  // (P, D/2)
  const Tensor& s = rope.sin_table();  // (P, D/2)
  REQUIRE_MESSAGE(c.shape() == Shape({3, 2}), "cos_table is (max_positions, D/2), got " << c.shape().str());
  REQUIRE_MESSAGE(s.shape() == Shape({3, 2}), "sin_table is (max_positions, D/2), got " << s.shape().str());
  const double freq[2] = {1.0, 0.1};
  for (Index pos = 0; pos < 3; ++pos)
    for (Index i = 0; i < 2; ++i) {
      CAPTURE(pos);
      CAPTURE(i);
      const double angle = static_cast<double>(pos) * freq[i];
      CHECK_MESSAGE(c(pos, i) == doctest::Approx(std::cos(angle)),
                    "cos_table[pos][i] = cos(pos * inv_freq[i])");
      CHECK_MESSAGE(s(pos, i) == doctest::Approx(std::sin(angle)),
                    "sin_table[pos][i] = sin(pos * inv_freq[i])");
    }
}

// ------------------------------------------------------------------------------------------------
// Step 8: rotating a head
// ------------------------------------------------------------------------------------------------

namespace {
void check_head(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t d = 0; d < got.size(); ++d) {
    CAPTURE(d);
    CHECK_MESSAGE(got[d] == doctest::Approx(want[d]).epsilon(1e-5), what);
  }
}
}  // namespace

TEST_CASE("step 8: adjacent pairs rotate dimensions 2i and 2i+1 together") {
  // D = 4, theta = 100: pair 0 = (1, 2) turns by pos * 1, pair 1 = (3, 4) by pos * 0.1.
  // (a, b) -> (a cos - b sin, a sin + b cos). At pos 1:
  //   (1 cos 1 - 2 sin 1, 1 sin 1 + 2 cos 1) = (-1.1426397, 1.9220756)
  //   (3 cos .1 - 4 sin .1, 3 sin .1 + 4 cos .1) = (2.5856788, 4.2795169)
  const RotaryEmbedding rope(4, 8, 100.0f, RopeConvention::kAdjacentPairs);
  std::vector<float> head = {1, 2, 3, 4};
  rope.rotate(head, 1);
  check_head(
      head, {-1.1426397f, 1.9220756f, 2.5856788f, 4.2795169f},
      "adjacent pairs: (x[2i], x[2i+1]) -> (a cos - b sin, a sin + b cos) with angle pos * theta^(-2i/D)");
  std::vector<float> at3 = {1, 2, 3, 4};
  rope.rotate(at3, 3);
  check_head(at3, {-1.2722325f, -1.8388650f, 1.6839286f, 4.7079066f},
             "the angle grows with the position: pos 3 turns pair 0 by 3 radians and pair 1 by 0.3");
}

TEST_CASE("step 8: half-split pairs rotate dimensions i and i + D/2 together") {
  // The same numbers, paired the Hugging Face way: pair 0 = (x[0], x[2]) = (1, 3) by 1 radian,
  // pair 1 = (x[1], x[3]) = (2, 4) by 0.1 radian. At pos 1:
  //   x[0] = 1 cos 1 - 3 sin 1 = -1.9841106,  x[2] = 1 sin 1 + 3 cos 1 = 2.4623779
  //   x[1] = 2 cos .1 - 4 sin .1 = 1.5906747, x[3] = 2 sin .1 + 4 cos .1 = 4.1796835
  const RotaryEmbedding rope(4, 8, 100.0f, RopeConvention::kHalfSplit);
  std::vector<float> head = {1, 2, 3, 4};
  rope.rotate(head, 1);
  check_head(head, {-1.9841106f, 1.5906747f, 2.4623779f, 4.1796835f},
             "half-split: pair i is (x[i], x[i + D/2]), still with angle pos * theta^(-2i/D)");
}

TEST_CASE("step 8: position 0 leaves a head unchanged") {
  for (const RopeConvention conv : {RopeConvention::kAdjacentPairs, RopeConvention::kHalfSplit}) {
    CAPTURE(static_cast<int>(conv));
    const RotaryEmbedding rope(6, 4, 10000.0f, conv);
    std::vector<float> head = {0.5f, -1.0f, 2.0f, 3.5f, -0.25f, 7.0f};
    const std::vector<float> before = head;
    rope.rotate(head, 0);
    check_head(head, before, "at position 0 every angle is 0: cos 1, sin 0, the head stays as it is");
  }
}

// ------------------------------------------------------------------------------------------------
// Step 9: the permutation between the conventions
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 9: adjacent_to_half_split puts the first of each pair in front and the partners behind") {
  const std::vector<float> head = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<float> out = llm::adjacent_to_half_split(head);
  CHECK_MESSAGE(out == (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}),
                "out[i] = head[2i] and out[i + D/2] = head[2i + 1]: pair i lands on (i, i + D/2)");
  const std::vector<float> two = llm::adjacent_to_half_split(std::vector<float>{9, 8});
  CHECK_MESSAGE(two == (std::vector<float>{9, 8}), "with one pair nothing moves");
}
