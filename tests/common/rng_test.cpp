// rng_test.cpp — llm::Rng: reproducibility, seeding, the golden stream of seed 42, and the
// statistics of uniform() and normal().
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "llm/rng.h"
#include "test_support.h"

using llm::Rng;

namespace {

std::vector<std::uint64_t> draw_u64(Rng& rng, int n) {
  std::vector<std::uint64_t> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(rng.next_u64());
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("rng");

TEST_CASE("rng same seed gives the same stream") {
  Rng a(1234), b(1234);
  INFO("two Rngs with the same seed must produce identical streams (reproducible experiments)");
  CHECK(draw_u64(a, 1000) == draw_u64(b, 1000));
  for (int i = 0; i < 100; ++i) {
    CAPTURE(i);
    CHECK(a.uniform() == b.uniform());
    CHECK(a.normal() == b.normal());
  }
}

TEST_CASE("rng reseed restarts the stream") {
  Rng a(7);
  const std::vector<std::uint64_t> first = draw_u64(a, 10);
  (void)a.normal();  // leaves a spare normal behind; reseed must drop it
  a.reseed(7);
  INFO("reseed(s) must restart exactly the stream of Rng(s), spare normal included");
  CHECK(draw_u64(a, 10) == first);
  a.reseed(7);
  Rng b(7);
  CHECK(a.normal() == b.normal());
  CHECK(a.normal() == b.normal());
}

TEST_CASE("rng different seeds give different streams") {
  INFO("different seeds must give different streams (splitmix64 mixes even adjacent seeds)");
  Rng s0(0), s1(1), s2(2);
  const auto a = draw_u64(s0, 100);
  const auto b = draw_u64(s1, 100);
  const auto c = draw_u64(s2, 100);
  CHECK(a != b);
  CHECK(b != c);
  CHECK(a != c);
  // Not merely shifted copies of each other either: no value of seed 1 in the first 100 of seed 2.
  int shared = 0;
  for (std::uint64_t x : b)
    for (std::uint64_t y : c)
      if (x == y) ++shared;
  CHECK(shared == 0);
}

TEST_CASE("rng seed zero does not give a stuck stream") {
  // xorshift has one fixed point, the all-zero state; seed 0 must not land there.
  Rng rng(0);
  const auto v = draw_u64(rng, 1000);
  INFO("seed 0 must be scrambled by splitmix64: xorshift from state 0 would emit only zeros");
  bool all_equal = true;
  bool any_zero = false;
  for (std::uint64_t x : v) {
    all_equal = all_equal && x == v[0];
    any_zero = any_zero || x == 0;
  }
  CHECK_FALSE(all_equal);
  CHECK_FALSE(any_zero);

  Rng default_constructed;
  Rng zero(0);
  CHECK_MESSAGE(default_constructed.next_u64() == zero.next_u64(), "Rng() must be the same as Rng(0)");
}

TEST_CASE("rng golden first values of seed 42") {
  // Golden numbers: computed once by running this implementation (and cross-checked with an independent
  // Python transcription of splitmix64 + xorshift64*), then hard-coded. The header promises the same
  // stream on every compiler and platform; these pin it, so any change to the seeding, the shifts or
  // the multiplier (or an accidental platform dependence) fails here instead of silently changing
  // every initialised weight and sampled token downstream.
  Rng rng(42);
  INFO("Rng(42).next_u64() must reproduce the pinned cross-platform stream");
  CHECK(rng.next_u64() == 3580622183945639842ull);
  CHECK(rng.next_u64() == 10378725325292465923ull);
  CHECK(rng.next_u64() == 8967075514996744559ull);
}

TEST_CASE("rng uniform is in the half open unit interval with mean one half") {
  Rng rng(2024);
  const int n = 100000;
  double sum = 0.0;
  int out_of_range = 0;
  int not_on_grid = 0;
  for (int i = 0; i < n; ++i) {
    const float u = rng.uniform();
    if (!(u >= 0.0f && u < 1.0f)) ++out_of_range;
    // uniform() is (24 bits) * 2^-24, so u * 2^24 is an exact integer.
    const float scaled = u * 16777216.0f;
    if (scaled != std::floor(scaled)) ++not_on_grid;
    sum += u;
  }
  const double mean = sum / n;
  CAPTURE(mean);
  CHECK_MESSAGE(out_of_range == 0, "uniform() must always be in [0, 1): 1.0 or a negative value appeared");
  CHECK_MESSAGE(not_on_grid == 0, "uniform() must be a multiple of 2^-24 (top 24 bits of next_u64)");
  // The mean of n U[0,1) draws has std 1/sqrt(12 n) = 0.0009; 0.01 is over 10 sigma.
  CHECK_MESSAGE(std::fabs(mean - 0.5) < 0.01, "uniform() mean must be 0.5 within 0.01 over 100k draws");
}

TEST_CASE("rng normal has mean zero and variance one") {
  Rng rng(99);
  const int n = 100000;
  double sum = 0.0, sum_sq = 0.0;
  int not_finite = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    if (!std::isfinite(x)) ++not_finite;
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  CAPTURE(mean);
  CAPTURE(variance);
  CHECK_MESSAGE(not_finite == 0, "normal() must be finite: Box-Muller must never take log(0)");
  // Standard errors for n = 1e5: mean 1/sqrt(n) = 0.0032, variance sqrt(2/n) = 0.0045; 0.02 is > 4 sigma.
  CHECK_MESSAGE(std::fabs(mean) < 0.02, "normal() mean must be 0 within 0.02 over 100k draws");
  CHECK_MESSAGE(std::fabs(variance - 1.0) < 0.02, "normal() variance must be 1 within 0.02 over 100k draws");
}

TEST_SUITE_END();  // rng
