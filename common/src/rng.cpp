// rng.cpp — xorshift64* (Marsaglia; Vigna's multiplier) with a splitmix64 seeding step.
#include "llm/rng.h"

#include <cmath>
#include <numbers>

namespace llm {

void Rng::reseed(std::uint64_t seed) {
  // splitmix64 of the seed: well-mixed, and it maps no seed to the forbidden all-zero state
  // except with probability 2^-64; guard that case anyway.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z = z ^ (z >> 31);
  state_ = z != 0 ? z : 0x2545F4914F6CDD1Dull;
  has_spare_ = false;
}

std::uint64_t Rng::next_u64() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1Dull;
}

float Rng::uniform() {
  // 24 bits fill a float mantissa exactly, so the result is a multiple of 2^-24 and never 1.0f.
  return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f);
}

float Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  // Box-Muller on (0, 1]: 1 - uniform() is never 0, so the log is finite.
  const double u1 = 1.0 - static_cast<double>(uniform());
  const double u2 = static_cast<double>(uniform());
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = static_cast<float>(radius * std::sin(angle));
  has_spare_ = true;
  return static_cast<float>(radius * std::cos(angle));
}

}  // namespace llm
