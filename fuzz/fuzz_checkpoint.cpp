// fuzz_checkpoint.cpp — libFuzzer target: arbitrary bytes as a llama2.c checkpoint file.
// Expected: the load succeeds, or it throws FormatError (bad file) / IoError. Anything else —
// a crash, a sanitizer report, a leak, std::bad_alloc (an allocation before the size check), another
// exception type — is a finding. A successful load must agree with its own header.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"

namespace {

void check_consistent(const llm::Checkpoint& ck) {
  const llm::CheckpointHeader& h = ck.header;
  const llm::CheckpointWeights& w = ck.weights;
  const auto C = static_cast<llm::Index>(h.dim);
  const auto V =
      static_cast<llm::Index>(h.vocab_size < 0 ? -static_cast<std::int64_t>(h.vocab_size) : h.vocab_size);
  bool ok = static_cast<int>(w.layers.size()) == h.n_layers &&
            w.token_embedding.shape() == llm::Shape{V, C} && w.rms_final.shape() == llm::Shape{C} &&
            w.wcls.has_value() == (h.vocab_size < 0) && ck.config.vocab_size == V &&
            ck.config.hidden_size == h.dim && ck.config.num_hidden_layers == h.n_layers &&
            ck.config.max_position_embeddings == h.seq_len;
  for (const auto& l : w.layers)
    ok = ok && l.wq.shape() == llm::Shape{C, C} && l.w1.shape() == llm::Shape{h.hidden_dim, C} &&
         l.w2.shape() == llm::Shape{C, h.hidden_dim};
  if (!ok) llm::fuzz::finding("load_checkpoint", "loaded checkpoint disagrees with its header");
  try {
    ck.config.validate();
  } catch (const llm::Error& e) {
    llm::fuzz::finding("load_checkpoint", std::string("loaded config does not validate: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static llm::fuzz::ScratchFile scratch("llm_fuzz_checkpoint");
  const auto& path = scratch.write(data, size);
  llm::fuzz::expect_only<llm::FormatError, llm::IoError>("load_checkpoint", [&] {
    const llm::Checkpoint ck = llm::load_checkpoint(path);
    check_consistent(ck);
  });
  return 0;
}
