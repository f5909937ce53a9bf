// rng.h — llm::Rng, the one random source of the project: xorshift64* seeded through splitmix64.
// Its stream is fixed by this file alone (integer arithmetic only), so the same seed gives the same
// numbers on every compiler and platform. No std::*_distribution anywhere a test compares output.
#pragma once

#include <cstdint>

namespace llm {

class Rng {
 public:
  // Any seed works, 0 included: splitmix64 scrambles it first, so the state is never all zero.
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed);
  std::uint64_t next_u64();  // xorshift64*
  float uniform();           // in [0, 1): the top 24 bits of next_u64() times 2^-24, exactly
  float normal();            // N(0, 1) by Box-Muller; used only for weight initialisation

 private:
  std::uint64_t state_ = 1;
  float spare_normal_ = 0.0f;
  bool has_spare_ = false;
};

}  // namespace llm
