// stories260k_test.cpp — end to end on the real model: our reference CausalLM, loader and tokenizer
// reproduce llama2.c's published greedy outputs byte for byte, with and without the KV cache.
#include <doctest/doctest.h>

#include <cmath>

#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "tokenizer.h"
#include "test_support.h"

namespace {

struct Loaded {
  llm::Tokenizer tok;
  llm::CausalLM model;
};

std::optional<Loaded> load() {
  const auto files = llm::testing::model_or_skip();
  if (!files) return std::nullopt;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  return Loaded{llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size), llm::CausalLM::from_checkpoint(ckpt)};
}

// Greedy generation exactly as llama2.c's run.c prints it: the prompt's pieces, then each new token's
// piece, stopping at BOS (which separates TinyStories stories).
std::string greedy_text(const Loaded& m, const std::string& prompt, int new_tokens, bool use_cache) {
  const std::vector<std::int32_t> ids = m.tok.encode(prompt, /*bos=*/true);
  const llm::IdTensor out = m.model.generate(
      llm::make_ids({ids}), {.max_new_tokens = new_tokens, .temperature = 0.0f, .eos_token_id = 1, .use_cache = use_cache});
  std::vector<std::int32_t> all(out.data(), out.data() + out.numel());
  return m.tok.decode(all);
}

}  // namespace

// Every case here loads stories260K (see model_or_skip).
TEST_SUITE_BEGIN(llm::testing::kModelSuite);

TEST_CASE("stories260K greedy from BOS reproduces llama2.c for 200 tokens") {
  const auto m = load();
  if (!m) return;
  const std::string expected =
      llm::testing::read_file(llm::find_model()->directory / "expected_greedy_t0_n200.txt");
  const std::string got = greedy_text(*m, "", 200, /*use_cache=*/true);
  CHECK_MESSAGE(got == expected, "greedy decoding with the KV cache diverged from llama2.c's reference:\n got: "
                                     << got << "\nwant: " << expected);
}

TEST_CASE("stories260K prompt Once upon a time reproduces llama2.c for 64 positions") {
  const auto m = load();
  if (!m) return;
  const std::string expected =
      llm::testing::read_file(llm::find_model()->directory / "expected_prompt_once_upon_a_time_t0_n64.txt");
  // 64 positions printed = 4 prompt tokens after BOS + 60 generated.
  const std::string cached = greedy_text(*m, "Once upon a time", 60, /*use_cache=*/true);
  const std::string uncached = greedy_text(*m, "Once upon a time", 60, /*use_cache=*/false);
  CHECK_MESSAGE(cached == expected, "the cached run diverged from llama2.c's reference:\n got: " << cached);
  CHECK_MESSAGE(uncached == cached, "full recomputation and the KV cache must give the same tokens");
}

TEST_CASE("stories260K cached and uncached logits agree at every position") {
  const auto m = load();
  if (!m) return;
  const std::vector<std::int32_t> ids = m->tok.encode("Once upon a time, there was a little dog", true);
  const llm::IdTensor all = llm::make_ids({ids});
  const llm::Tensor full = m->model.forward(all).logits;  // (1, N, V)
  auto cache = std::make_shared<llm::KVCache>(m->model.config(), 1, static_cast<llm::Index>(ids.size()));
  for (size_t t = 0; t < ids.size(); ++t) {
    const llm::CausalLMOutputWithPast step =
        m->model.forward(llm::make_ids({{ids[t]}}), {.past_key_values = cache, .use_cache = true});
    float worst = 0.0f;
    for (llm::Index v = 0; v < full.size(2); ++v)
      worst = std::max(worst, std::fabs(step.logits(0, 0, v) - full(0, static_cast<llm::Index>(t), v)));
    CAPTURE(t);
    // float32 sums taken in a different order (one token vs the whole prompt at once) differ by ~1e-6.
    CHECK_MESSAGE(worst < 1e-4f, "decode step " << t << " differs from the full forward by " << worst);
  }
  CHECK(cache->seq_length() == static_cast<llm::Index>(ids.size()));
}

TEST_SUITE_END();
