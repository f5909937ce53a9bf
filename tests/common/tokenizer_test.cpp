// tokenizer_test.cpp — the given part of lesson 01's tokenizer (tokenizer_file.cpp): loading tok512.bin
// and synthetic files, refusing corrupt ones, from_pieces, and the lookups and helpers encode/decode
// use (find, utf8_length, parse_byte_piece, has_byte_fallback, max_piece_length). Not here: encode and
// decode themselves — the student's steps 1-3, tested by lesson 01's suites (solution flavour = reference).
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "../../lessons/lesson01_tokenizer_embedding/tests/test_vocab.h"
#include "llm/errors.h"
#include "test_support.h"
#include "tokenizer.h"

namespace fs = std::filesystem;
using llm::FormatError;
using llm::InvalidArgument;
using llm::IoError;
using llm::Tokenizer;

namespace {

using lesson01_test::byte_piece;
using lesson01_test::escaped;
using lesson01_test::tiny_vocab;
using lesson01_test::tok512_or_skip;
using llm::testing::contains;
using llm::testing::TempDir;

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

// Loads `path` expecting exception type E, and returns its message ("" if nothing or something else
// was thrown, which the CHECKs on the message then report).
template <typename E>
std::string load_error(const fs::path& path, int vocab_size) {
  INFO("Tokenizer::load(" << path.string() << ") must refuse this file with the expected exception type");
  return llm::testing::error_message<E>([&] { (void)Tokenizer::load(path, vocab_size); });
}

}  // namespace

TEST_CASE("tokenizer tok512 special and byte pieces" * doctest::test_suite(llm::testing::kModelSuite)) {
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

TEST_CASE("tokenizer find returns the first id of a piece or nothing") {
  const Tokenizer tok = tiny_vocab({{" ", 0.0f}, {"ab", 1.0f}, {"ab", 2.0f}, {"\xE4\xB8\xAD", 0.0f}});
  CHECK_MESSAGE(tok.find(" ") == std::optional<std::int32_t>{259},
                "find(\" \") is the id of the space piece");
  CHECK_MESSAGE(tok.find("ab") == std::optional<std::int32_t>{260}, "a repeated piece finds its first id");
  CHECK_MESSAGE(tok.find("\xE4\xB8\xAD") == std::optional<std::int32_t>{262},
                "multi-byte pieces are found by their bytes");
  CHECK_MESSAGE(tok.find("<0x41>") == std::optional<std::int32_t>{3 + 0x41}, "byte pieces are pieces too");
  CHECK_MESSAGE(!tok.find("abc"), "no piece, no id");
  CHECK_MESSAGE(!tok.find(""), "the empty string is not a piece here");
  CHECK_MESSAGE(!tok.find(std::string_view("a\0b", 3)),
                "lookups compare all bytes, an embedded NUL included");
}

TEST_CASE("tokenizer utf8_length accepts well-formed sequences and rejects the rest") {
  const struct {
    std::string text;
    size_t at, want;
    const char* what;
  } cases[] = {
      {"a", 0, 1, "ASCII is one byte"},
      {"\xC3\xA9", 0, 2, "é: a 2-byte sequence"},
      {"\xE4\xB8\xAD", 0, 3, "中: a 3-byte sequence"},
      {"\xF0\x9F\x99\x82", 0, 4, "U+1F642: a 4-byte sequence"},
      {"x\xC3\xA9", 1, 2, "the length is measured from `at`"},
      {"\x80", 0, 0, "a continuation byte cannot start a sequence"},
      {"\xC0\xAF", 0, 0, "C0 and C1 only start overlong forms"},
      {"\xF5\x80\x80\x80", 0, 0, "F5..FF are not lead bytes"},
      {"\xFF", 0, 0, "FF is not a lead byte"},
      {"\xE4\xB8", 0, 0, "a 3-byte sequence cut short by the end of the text"},
      {std::string("\xE4") + "a\xAD", 0, 0, "a lead byte followed by a non-continuation byte"},
      {"\xC3\xA9\x80", 0, 2, "a stray continuation byte after a complete sequence is not part of it"},
  };
  for (const auto& c : cases) {
    CAPTURE(escaped(c.text));
    CHECK_MESSAGE(Tokenizer::utf8_length(c.text, c.at) == c.want, c.what);
  }
}

TEST_CASE("tokenizer parse_byte_piece reads either hex case and nothing else") {
  CHECK(Tokenizer::parse_byte_piece("<0x00>") == std::optional<unsigned char>{0x00});
  CHECK(Tokenizer::parse_byte_piece("<0x0A>") == std::optional<unsigned char>{0x0A});
  CHECK_MESSAGE(Tokenizer::parse_byte_piece("<0xff>") == std::optional<unsigned char>{0xFF},
                "lowercase hex decodes too (llama2.c parses with %X)");
  CHECK(Tokenizer::parse_byte_piece("<0xE4>") == std::optional<unsigned char>{0xE4});
  for (const char* not_byte : {"<0x0>", "<0x0AA>", "<0xG0>", "0x0A", "<0x0A", " <0x0A>", "<0X0A>", "a", ""}) {
    CAPTURE(not_byte);
    CHECK_MESSAGE(!Tokenizer::parse_byte_piece(not_byte), "only exactly <0xHH> is a byte piece");
  }
}

TEST_CASE("tokenizer has_byte_fallback and max_piece_length describe the vocabulary" * doctest::test_suite(llm::testing::kModelSuite)) {
  const Tokenizer with_bytes = tiny_vocab({{" hello", 0.0f}});
  CHECK_MESSAGE(with_bytes.has_byte_fallback(), "ids 3..258 are <0x00>..<0xFF>");
  CHECK_MESSAGE(with_bytes.max_piece_length() == 6, "the longest piece is <0xHH> or ' hello': 6 bytes");
  const Tokenizer without =
      Tokenizer::from_pieces({"<unk>", "<s>", "</s>", " ", "abcdefgh"}, std::vector<float>(5, 0.0f));
  CHECK_MESSAGE(!without.has_byte_fallback(), "no byte pieces, no byte fallback");
  CHECK_MESSAGE(without.max_piece_length() == 8, "the longest piece is 'abcdefgh'");
  auto tok = tok512_or_skip();
  if (!tok) return;
  CHECK_MESSAGE(tok->has_byte_fallback(), "tok512 has the 256 byte pieces");
  CHECK_MESSAGE(tok->max_piece_length() == 7,
                "tok512's longest pieces have 7 bytes (' little', ' friend'), its max_token_length");
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
    CHECK_MESSAGE(contains(e.what(), "68"), "message names piece 68 (= 0x41 + 3): " << std::string(e.what()));
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

TEST_CASE("tokenizer real files of the wrong kind are refused" * doctest::test_suite(llm::testing::kModelSuite)) {
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
