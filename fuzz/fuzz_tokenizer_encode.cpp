// fuzz_tokenizer_encode.cpp — libFuzzer target: Tokenizer::encode of arbitrary bytes.
// The vocabulary is the real tok512.bin ($LLM_FUZZ_TOKENIZER, else llm::find_model()); without it, or
// with LLM_FUZZ_TOKENIZER=synthetic, a synthetic one with the 256 byte pieces and a few merges.
// encode must never throw on any input (it is total: unknown and malformed bytes fall back to byte
// tokens), every id must be in [0, vocab), and decode(encode(text)) must give the text back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../tests/errors/llama2c_files.h"
#include "fuzz_support.h"
#include "llm/model_files.h"
#include "tokenizer.h"

namespace {

std::unique_ptr<llm::Tokenizer> tokenizer;

std::string hex(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s.substr(0, 200)) {
    std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned>(c));
    out += buf;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::path path;
  const char* env = std::getenv("LLM_FUZZ_TOKENIZER");
  if (env != nullptr && std::string_view(env) == "synthetic") {
    // leave path empty: the synthetic vocabulary below
  } else if (env != nullptr && *env != '\0') {
    path = env;
  } else if (const auto files = llm::find_model()) {
    path = files->tokenizer;
  }
  if (!path.empty()) {
    tokenizer = std::make_unique<llm::Tokenizer>(llm::Tokenizer::load(path, 512));
    std::fprintf(stderr, "fuzz_tokenizer_encode: vocabulary %s (%d pieces)\n", path.c_str(),
                 tokenizer->vocab_size());
  } else {
    const auto pieces = llm::files::tokenizer_pieces(llm::files::sample_merges());
    std::vector<float> scores(pieces.size(), 0.0f);
    for (std::size_t i = 259; i < scores.size(); ++i) scores[i] = static_cast<float>(i);
    tokenizer = std::make_unique<llm::Tokenizer>(llm::Tokenizer::from_pieces(pieces, scores));
    std::fprintf(stderr, "fuzz_tokenizer_encode: synthetic vocabulary of %d pieces\n",
                 tokenizer->vocab_size());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::int32_t> ids;
  // No exception of any kind is allowed: encode is documented as total.
  llm::fuzz::expect_only<>("Tokenizer::encode",
                           [&] { ids = tokenizer->encode(text, /*bos=*/true, /*eos=*/false); });
  if (ids.empty() || ids.front() != llm::Tokenizer::kBos)
    llm::fuzz::finding("Tokenizer::encode", "the ids do not start with BOS");
  for (std::int32_t id : ids)
    if (id < 0 || id >= tokenizer->vocab_size())
      llm::fuzz::finding("Tokenizer::encode", "id " + std::to_string(id) + " is outside the vocabulary");
  std::string decoded;
  llm::fuzz::expect_only<>("Tokenizer::decode", [&] { decoded = tokenizer->decode(ids); });
  if (decoded != text)
    llm::fuzz::finding("decode(encode(text)) != text",
                       "text " + hex(text) + " came back as " + hex(decoded) + " (hex, first 200 bytes)");
  return 0;
}
