// tokenizer_test.cpp — tok512 encode/decode, merge order on tiny vocabularies, corrupt tokenizer files.
// corrupt files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "llm/errors.h"
#include "tokenizer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using llm::FormatError;
using llm::InvalidArgument;
using llm::IoError;
using llm::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

using llm::testing::TempDir;

std::string byte_piece(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(b));
  return buf;
}

// <unk>, BOS, EOS, the 256 byte pieces, then `extra` (piece, score) pairs from id 259 on.
Tokenizer tiny_vocab(const std::vector<std::pair<std::string, float>>& extra) {
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  std::vector<float> scores = {0.0f, 0.0f, 0.0f};
  for (int b = 0; b < 256; ++b) {
    pieces.push_back(byte_piece(b));
    scores.push_back(0.0f);
  }
  for (const auto& [p, s] : extra) {
    pieces.push_back(p);
    scores.push_back(s);
  }
  return Tokenizer::from_pieces(std::move(pieces), std::move(scores));
}

// A tokenizer file in the llama2.c layout, for the synthetic corrupt-file cases.
std::string tokenizer_file(const Tokenizer& t, std::int32_t max_len) {
  std::string out;
  out.append(reinterpret_cast<const char*>(&max_len), 4);
  for (std::int32_t id = 0; id < t.vocab_size(); ++id) {
    const float score = t.score(id);
    const auto len = static_cast<std::int32_t>(t.piece(id).size());
    out.append(reinterpret_cast<const char*>(&score), 4);
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += t.piece(id);
  }
  return out;
}

std::string describe(const Ids& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// Printable bytes, for round-trip failure messages.
std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <typename E>
std::string load_error(const fs::path& path, int vocab_size) {
  try {
    (void)Tokenizer::load(path, vocab_size);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("Tokenizer::load(" << path.string() << ") threw the wrong exception type: " << e.what());
    return {};
  }
  FAIL_CHECK("Tokenizer::load(" << path.string() << ") accepted a bad file");
  return {};
}

int count_byte_tokens(const Ids& ids) {
  int n = 0;
  for (auto id : ids) n += (id >= Tokenizer::kFirstByteToken && id < Tokenizer::kFirstByteToken + 256);
  return n;
}

std::optional<Tokenizer> tok512_or_skip() {
  auto files = llm::testing::model_or_skip();
  if (!files) return std::nullopt;
  return Tokenizer::load(files->tokenizer, 512);
}

}  // namespace

TEST_CASE("tokenizer tok512 special and byte pieces") {
  auto tok = tok512_or_skip();
  if (!tok) return;
  CHECK_MESSAGE(tok->vocab_size() == 512, "tok512 has 512 pieces");
  CHECK_MESSAGE(tok->piece(0) == "<unk>", "id 0 is <unk>");
  CHECK_MESSAGE(tok->piece(1) == "\n<s>\n", "id 1 is BOS as llama2.c exports it");
  CHECK_MESSAGE(tok->piece(2) == "\n</s>\n", "id 2 is EOS as llama2.c exports it");
  CHECK_MESSAGE(tok->piece(3) == "<0x00>", "byte 0x00 is id 3");
  CHECK_MESSAGE(tok->piece(3 + 0x41) == "<0x41>", "byte 0x41 is id 0x41 + 3 (uppercase hex)");
  CHECK_MESSAGE(tok->piece(258) == "<0xFF>", "byte 0xFF is id 258");
  CHECK_MESSAGE(tok->piece(403) == " Once", "id 403 is ' Once' with a plain leading space");
  CHECK_MESSAGE(tok->score(403) == -144.0f, "score of ' Once'");
  CHECK_MESSAGE(tok->piece(410) == " ", "the dummy-prefix piece ' ' exists (id 410)");
  CHECK_THROWS_AS(tok->piece(512), InvalidArgument);
  CHECK_THROWS_AS(tok->piece(-1), InvalidArgument);
  CHECK_THROWS_AS(tok->score(512), InvalidArgument);
}

TEST_CASE("tokenizer tok512 encodes Once upon a time like llama2.c") {
  auto tok = tok512_or_skip();
  if (!tok) return;
  const Ids with_bos = tok->encode("Once upon a time");
  CHECK_MESSAGE((with_bos == Ids{1, 403, 407, 261, 378}),
                "reference encoding from SOURCE.md, got " << describe(with_bos));
  const Ids no_bos = tok->encode("Once upon a time", false);
  CHECK_MESSAGE((no_bos == Ids{403, 407, 261, 378}), "bos=false drops only BOS, got " << describe(no_bos));
  const Ids with_eos = tok->encode("Once upon a time", true, true);
  CHECK_MESSAGE((with_eos == Ids{1, 403, 407, 261, 378, 2}),
                "eos=true appends EOS, got " << describe(with_eos));
  CHECK_MESSAGE((tok->encode("") == Ids{1}), "empty text: BOS only, no dummy-prefix space");
  CHECK_MESSAGE(tok->encode("", false).empty(), "empty text without BOS: nothing at all");
  CHECK_MESSAGE((tok->encode(" ", false) == Ids{410, 410}), "a single space: dummy prefix plus the space");
}

TEST_CASE("tokenizer tok512 round trips ASCII text") {
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
    // With BOS, decode drops the dummy-prefix space of the first piece: the text comes back exactly.
    const Ids ids = tok->encode(text);
    CHECK_MESSAGE(tok->decode(ids) == text, "round trip with BOS of '" << escaped(text) << "' gave '"
                                                                       << escaped(tok->decode(ids)) << "'");
    // Without BOS nothing tells decode that the first space is the dummy prefix, so it stays.
    CHECK_MESSAGE(tok->decode(tok->encode(text, false)) == " " + text,
                  "round trip without BOS keeps the dummy-prefix space for '" << escaped(text) << "'");
  }
  const Ids words = tok->encode("Lily and Tom went to the park.");
  CHECK_MESSAGE(count_byte_tokens(words) == 0, "plain English needs no byte fallback: " << describe(words));
  const Ids hash = tok->encode("#", false);
  CHECK_MESSAGE((hash == Ids{410, 3 + '#'}),
                "'#' is not a tok512 piece, so it is byte token 38: " << describe(hash));
}

TEST_CASE("tokenizer tok512 round trips non-ASCII text through byte fallback") {
  auto tok = tok512_or_skip();
  if (!tok) return;
  const std::string texts[] = {"h\xC3\xA9llo w\xC3\xB6rld",             // héllo wörld
                               "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // 日本語
                               "a smile \xF0\x9F\x99\x82 emoji"};       // U+1F642
  for (const std::string& text : texts) {
    const Ids ids = tok->encode(text);
    CHECK_MESSAGE(tok->decode(ids) == text,
                  "round trip of '" << escaped(text) << "' gave '" << escaped(tok->decode(ids)) << "'");
    CHECK_MESSAGE(count_byte_tokens(ids) > 0,
                  "non-ASCII text must use byte tokens [3, 259): " << describe(ids));
  }
  // 日本語 has no pieces in tok512: BOS, the dummy prefix, then its 9 UTF-8 bytes as byte tokens.
  const Ids ids = tok->encode(texts[1]);
  Ids want = {1, 410};
  for (unsigned char c : texts[1]) want.push_back(3 + c);
  CHECK_MESSAGE(ids == want, "CJK text falls back byte by byte: got " << describe(ids));
  // é (two UTF-8 bytes) happens to be a whole piece of tok512: a code point found in the vocabulary is
  // one token, not two byte tokens.
  const Ids e_acute = tok->encode("\xC3\xA9", false);
  REQUIRE_MESSAGE(e_acute.size() == 2u, "prefix plus one token for é: " << describe(e_acute));
  CHECK_MESSAGE(tok->piece(e_acute[1]) == "\xC3\xA9",
                "é is looked up as a whole code point: " << describe(e_acute));
  // ö is not a piece: its two bytes 0xC3 0xB6 become byte tokens 198 and 185.
  const Ids o_umlaut = tok->encode("\xC3\xB6", false);
  CHECK_MESSAGE((o_umlaut == Ids{410, 3 + 0xC3, 3 + 0xB6}),
                "ö as byte tokens after the prefix: " << describe(o_umlaut));
}

TEST_CASE("tokenizer tok512 invalid UTF-8 falls back to byte tokens") {
  auto tok = tok512_or_skip();
  if (!tok) return;
  const std::string texts[] = {"\xFF\xFE abc",  // bytes that never occur in UTF-8
                               "a\x80"
                               "b",                // stray continuation byte
                               "ab\xE6\x97",       // truncated 3-byte sequence at the end
                               "\xE6\x97z\xC3",    // truncated sequence, then a lone lead byte
                               "\xF0\x9F\x99 x"};  // 4-byte sequence missing its last byte
  for (const std::string& text : texts) {
    Ids ids;
    CHECK_NOTHROW(ids = tok->encode(text));
    CHECK_MESSAGE(tok->decode(ids) == text, "invalid UTF-8 '" << escaped(text) << "' must round-trip, got '"
                                                              << escaped(tok->decode(ids)) << "'");
  }
  const Ids ids = tok->encode(texts[0]);
  CHECK_MESSAGE(ids.size() >= 4, "BOS, prefix and at least two byte tokens: " << describe(ids));
  CHECK_MESSAGE((ids.size() >= 4 && ids[2] == 3 + 0xFF && ids[3] == 3 + 0xFE),
                "0xFF and 0xFE become byte tokens 258 and 257: " << describe(ids));
  // The stray 0x80 must not swallow the valid 'a' before it: 'a' still merges with the prefix.
  const Ids stray = tok->encode(texts[1], false);
  CHECK_MESSAGE(stray.size() == 3, "' a', <0x80>, 'b': " << describe(stray));
  CHECK_MESSAGE((stray.size() == 3 && tok->piece(stray[0]) == " a" && stray[1] == 3 + 0x80),
                "a stray continuation byte is its own byte token: " << describe(stray));
}

TEST_CASE("tokenizer decode_piece drops the leading space only after BOS") {
  const Tokenizer tok = tiny_vocab({{" ", 0.0f}, {" hi", 1.0f}, {"h", 0.0f}, {"i", 0.0f}});
  const std::int32_t space = 259, hi = 260;
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, hi) == "hi", "after BOS the leading space is dropped");
  CHECK_MESSAGE(tok.decode_piece(hi, hi) == " hi", "after a normal token the leading space stays");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kEos, hi) == " hi", "only BOS (not EOS) drops the space");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, space) == "",
                "the bare dummy-prefix space after BOS is empty");
  CHECK_MESSAGE(tok.decode_piece(hi, 3 + 0x0A) == "\n", "<0x0A> decodes to a raw newline");
  CHECK_MESSAGE(tok.decode_piece(Tokenizer::kBos, 3 + 0x20) == " ",
                "<0x20> is a raw space, kept even after BOS");
  CHECK_MESSAGE(tok.decode_piece(hi, 3 + 0xFF) == std::string(1, '\xFF'),
                "<0xFF> decodes to the raw byte 0xFF");
  CHECK_MESSAGE(tok.decode(Ids{1, hi, hi}) == "hi hi", "decode: BOS prints nothing, drops the next space");
  CHECK_MESSAGE(tok.decode(Ids{hi, hi}) == " hi hi", "decode without BOS keeps the first space");
  CHECK_MESSAGE(tok.decode(Ids{1, hi, 1, hi}) == "hihi", "a BOS in the middle drops the following space too");
  CHECK_MESSAGE(tok.decode(Ids{}) == "", "decode of nothing is empty");
  CHECK_THROWS_AS(tok.decode_piece(hi, tok.vocab_size()), InvalidArgument);
  CHECK_THROWS_AS(tok.decode(Ids{1, -3}), InvalidArgument);
}

TEST_CASE("tokenizer merges the highest-scoring pair first") {
  // "abc": leftmost-first merging would make "ab" + "c"; the best-scoring pair is "bc" (5 > 1).
  const Tokenizer tok =
      tiny_vocab({{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"c", 0.0f}, {"ab", 1.0f}, {"bc", 5.0f}});
  const std::int32_t space = 259, a = 260, bc = 264;
  const Ids ids = tok.encode("abc");
  CHECK_MESSAGE(ids == (Ids{1, space, a, bc}), "highest score wins over leftmost: got " << describe(ids));
  CHECK_MESSAGE(tok.decode(ids) == "abc", "merged result decodes back");
}

TEST_CASE("tokenizer breaks score ties toward the leftmost pair") {
  // "aba": "ab" and "ba" both score 3; the leftmost ("ab") must win.
  const Tokenizer tok = tiny_vocab({{" ", 0.0f}, {"a", 0.0f}, {"b", 0.0f}, {"ab", 3.0f}, {"ba", 3.0f}});
  const std::int32_t space = 259, a = 260, ab = 262;
  const Ids ids = tok.encode("aba");
  CHECK_MESSAGE(ids == (Ids{1, space, ab, a}), "tie goes to the leftmost pair: got " << describe(ids));
}

TEST_CASE("tokenizer merges repeatedly into a whole word") {
  // h e l l o -> he l l o -> he ll o -> hell o -> hello -> " hello" (with the dummy prefix).
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
  CHECK_MESSAGE((tok.encode("hello", false) == Ids{space_hello}),
                "five merges build ' hello': got " << describe(tok.encode("hello", false)));
  // "lo" (score -1) is never chosen while better merges exist: "hello" wins over "hell" + "lo".
  const Ids two = tok.encode("hello hello", false);
  CHECK_MESSAGE(two == (Ids{space_hello, space_hello}), "each word merges fully: got " << describe(two));
  CHECK_MESSAGE(tok.decode(Ids{1, space_hello, space_hello}) == "hello hello", "decode of the merged words");
}

TEST_CASE("tokenizer without byte pieces maps unknown bytes to unk") {
  const Tokenizer tok =
      Tokenizer::from_pieces({"<unk>", "<s>", "</s>", " ", "a"}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
  const Ids ids = tok.encode("az", false);
  CHECK_MESSAGE(ids == (Ids{3, 4, Tokenizer::kUnk}), "no byte fallback: 'z' is <unk>: " << describe(ids));
}

TEST_CASE("tokenizer from_pieces rejects inconsistent input") {
  CHECK_THROWS_AS(Tokenizer::from_pieces({"<unk>", "<s>", "</s>"}, {0.0f, 0.0f}), InvalidArgument);
  CHECK_THROWS_AS(Tokenizer::from_pieces({"<unk>", "<s>"}, {0.0f, 0.0f}), InvalidArgument);
  CHECK_THROWS_AS(Tokenizer::from_pieces({}, {}), InvalidArgument);
  CHECK_THROWS_AS(Tokenizer::from_pieces({"<unk>", "<s>", "</s>", "x"},
                                         {0.0f, 0.0f, 0.0f, std::numeric_limits<float>::quiet_NaN()}),
                  InvalidArgument);
  // A half-present byte table (starts with <0x00> but <0x41> is wrong) is refused, naming the id.
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) pieces.push_back(byte_piece(b));
  pieces[3 + 0x41] = "A";
  try {
    (void)Tokenizer::from_pieces(pieces, std::vector<float>(pieces.size(), 0.0f));
    FAIL_CHECK("a broken byte-fallback table was accepted");
  } catch (const InvalidArgument& e) {
    CHECK_MESSAGE(contains(e.what(), "68"), "message names piece 68 (= 0x41 + 3): " << e.what());
  }
}

TEST_CASE("tokenizer loads a synthetic file and refuses corrupt ones") {
  TempDir dir;
  const Tokenizer tok = tiny_vocab({{" ", -1.0f}, {"ab", 2.5f}, {"abc", 7.0f}});
  const std::string good = tokenizer_file(tok, 6);
  const int V = tok.vocab_size();  // 262

  const Tokenizer loaded = Tokenizer::load(dir.write("good.bin", good), V);
  CHECK_MESSAGE(loaded.vocab_size() == V, "vocab size of the reloaded synthetic file");
  CHECK_MESSAGE((loaded.piece(261) == "abc" && loaded.score(261) == 7.0f),
                "last piece and its score reloaded");

  std::string msg = load_error<FormatError>(dir.write("short.bin", good.substr(0, good.size() - 1)), V);
  CHECK_MESSAGE(contains(msg, "token 261"), "truncated by one byte: message names the last token: " << msg);
  msg = load_error<FormatError>(dir.write("long.bin", good + "zz"), V);
  CHECK_MESSAGE(contains(msg, "2 trailing"), "trailing bytes: message counts them: " << msg);
  msg = load_error<FormatError>(dir.write("fewer.bin", good), V - 1);
  CHECK_MESSAGE(contains(msg, "trailing"), "more entries than vocab_size is trailing data: " << msg);
  msg = load_error<FormatError>(dir.write("empty.bin", ""), V);
  CHECK_MESSAGE(contains(msg, "0 bytes"), "empty file: message names the size: " << msg);

  std::string negative = good;
  const std::int32_t minus5 = -5;
  std::memcpy(&negative[4 + 4], &minus5, 4);  // length of token 0
  msg = load_error<FormatError>(dir.write("negative.bin", negative), V);
  CHECK_MESSAGE((contains(msg, "token 0") && contains(msg, "-5")),
                "negative length: names token and value: " << msg);

  std::string nan = good;
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan[4], &qnan, 4);  // score of token 0
  msg = load_error<FormatError>(dir.write("nan.bin", nan), V);
  CHECK_MESSAGE(contains(msg, "token 0"), "non-finite score: message names the token: " << msg);

  for (std::int32_t bad_max : {0, -1, 1 << 20}) {
    std::string bad = good;
    std::memcpy(&bad[0], &bad_max, 4);
    msg = load_error<FormatError>(dir.write("max.bin", bad), V);
    CHECK_MESSAGE(contains(msg, std::to_string(bad_max)), "absurd max_token_length is named: " << msg);
  }
  std::string too_long = good;
  const std::int32_t max2 = 2;  // "<unk>" (5 bytes) is longer than this
  std::memcpy(&too_long[0], &max2, 4);
  msg = load_error<FormatError>(dir.write("too_long.bin", too_long), V);
  CHECK_MESSAGE(contains(msg, "length 5"), "piece longer than max_token_length: " << msg);

  std::string lower = good;
  const size_t at = good.find("<0x0A>");
  REQUIRE_MESSAGE(at != std::string::npos, "test setup: the file holds <0x0A>");
  lower.replace(at, 6, "<0x0a>");
  msg = load_error<FormatError>(dir.write("lower.bin", lower), V);
  CHECK_MESSAGE(contains(msg, "token 13"),
                "byte pieces must be uppercase <0xHH>: message names token 13: " << msg);

  CHECK_THROWS_AS(Tokenizer::load(dir.write("good2.bin", good), 100), InvalidArgument);
  msg = load_error<IoError>(dir.path() / "missing.bin", V);
  CHECK_MESSAGE(contains(msg, "missing.bin"), "unreadable path: message names it: " << msg);
  msg = load_error<IoError>(dir.path(), V);
  CHECK_MESSAGE(contains(msg, "directory"), "a directory is not a tokenizer: " << msg);
}

TEST_CASE("tokenizer real files of the wrong kind are refused") {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  TempDir dir;
  std::string msg = load_error<FormatError>(files->checkpoint, 512);
  CHECK_MESSAGE(!msg.empty(), "stories260K.bin passed as a tokenizer must be a FormatError");
  const std::string good = llm::testing::read_file(files->tokenizer);
  REQUIRE_MESSAGE(good.size() == 6227u, "test setup: tok512.bin has its published size");
  msg = load_error<FormatError>(dir.write("tok_short.bin", good.substr(0, good.size() - 1)), 512);
  CHECK_MESSAGE(contains(msg, "token 511"), "tok512 truncated by one byte: names the last token: " << msg);
  msg = load_error<FormatError>(dir.write("tok_long.bin", good + "x"), 512);
  CHECK_MESSAGE(contains(msg, "1 trailing"), "tok512 with a trailing byte: " << msg);
  msg = load_error<FormatError>(files->tokenizer, 513);
  CHECK_MESSAGE(contains(msg, "truncated"), "asking for 513 tokens from a 512-token file: " << msg);
}
