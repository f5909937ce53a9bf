// fuzz_tokenizer_load.cpp — libFuzzer target: arbitrary bytes as a llama2.c tokenizer file.
// Input layout: 2 bytes (little-endian u16 n) choose vocab_size = 259 + n, the smallest a
// byte-fallback vocabulary allows; the rest is the file. tok512.bin is seeded as FD 00 + its bytes.
// Expected: the load succeeds or throws FormatError / IoError. A tokenizer that loads must then encode
// and decode its own pieces without any exception, with every id in range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "llm/errors.h"
#include "tokenizer.h"

namespace {

void exercise(const llm::Tokenizer& tok) {
  const int V = tok.vocab_size();
  std::string text;
  for (int id = 0; id < V; ++id) {
    (void)tok.decode_piece(llm::Tokenizer::kBos, id);
    (void)tok.decode_piece(id, id);
    if (id < 300 || id % 7 == 0) text += tok.piece(id);
    if (text.size() > 4096) break;
  }
  const std::vector<std::int32_t> ids = tok.encode(text, /*bos=*/true, /*eos=*/true);
  for (std::int32_t id : ids)
    if (id < 0 || id >= V)
      llm::fuzz::finding("Tokenizer::encode", "id " + std::to_string(id) + " out of range");
  (void)tok.decode(ids);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static llm::fuzz::ScratchFile scratch("llm_fuzz_tokenizer");
  const int vocab_size = 259 + (data[0] | (data[1] << 8));
  const auto& path = scratch.write(data + 2, size - 2);
  llm::fuzz::expect_only<llm::FormatError, llm::IoError>("Tokenizer::load", [&] {
    const llm::Tokenizer tok = llm::Tokenizer::load(path, vocab_size);
    // From here on nothing may throw: the file was accepted.
    llm::fuzz::expect_only<>("a loaded tokenizer", [&] { exercise(tok); });
  });
  return 0;
}
