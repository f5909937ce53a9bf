// attention_kernels.cpp — the softmax's exponentials for attention, eight at a time (the two loops run
// once per block are inline in the header).
#include "llm/attention_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace llm {

using detail::Floats8;
// The same eight as integers, for exp's exponent bits.
typedef std::int32_t Ints8 __attribute__((vector_size(8 * sizeof(std::int32_t))));

float softmax_numerators(std::span<float> w) {
  // The max first, eight at a time (a NaN makes it NaN or is met again below: the sum is NaN either way).
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = w.size();
  Floats8 max8 = Floats8{} + kNegInf;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Floats8 x;
    std::memcpy(&x, w.data() + i, sizeof x);
    max8 = max8 > x ? max8 : x;
  }
  float max = kNegInf;
  for (size_t l = 0; l < 8; ++l) max = std::max(max, max8[l]);
  for (; i < n; ++i) max = std::max(max, w[i]);
  if (max == kNegInf) {  // nothing visible (exp(-inf - -inf) would be NaN), or only NaN
    for (const float x : w)
      if (std::isnan(x)) return x;
    return 0.0f;
  }

  // exp(x) = 2^n * exp(r) with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2], where a
  // degree-6 polynomial (Cephes' expf coefficients) is accurate to float precision. Adding 1.5 * 2^23
  // rounds x / ln 2 to the integer n and leaves n in the low bits of the sum, from which 2^n is built
  // directly as a float's exponent field. Below -87.3 (n < -126) that field would be wrong: such
  // results, -inf's included, are set to 0 — they are below float's smallest normal number anyway.
  constexpr float kRound = 12582912.0f;            // 1.5 * 2^23
  constexpr std::int32_t kRoundBits = 0x4B400000;  // its bit pattern
  constexpr float kUnderflow = -87.3f;
  const Floats8 zero = {};
  Floats8 sum = zero;
  for (size_t j = 0; j < n; j += 8) {
    Floats8 x;
    const size_t m = std::min<size_t>(8, n - j);
    if (m == 8) {
      std::memcpy(&x, w.data() + j, sizeof x);
    } else {  // the last n % 8 scores, padded with -inf (exp = 0, adds nothing to the sum)
      for (size_t l = 0; l < 8; ++l) x[l] = l < m ? w[j + l] : kNegInf;
    }
    x = x - max;
    const Floats8 t = x * 1.44269504088896341f + kRound;               // 1.5 * 2^23 + round(x / ln 2)
    const Floats8 nf = t - kRound;                                     // n, as a float
    const Floats8 r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;  // x - n ln 2, ln 2 in two parts
    Floats8 p = zero + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;  // exp(r)
    Ints8 bits;
    std::memcpy(&bits, &t, sizeof bits);
    bits = (bits - kRoundBits + 127) << 23;  // 2^n: n + 127 in the exponent field
    Floats8 two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    const Floats8 e = p * two_n;
    Ints8 e_bits;
    std::memcpy(&e_bits, &e, sizeof e_bits);
    e_bits &= ~(x < kUnderflow);  // underflow and -inf: 0 (a NaN compares false and stays NaN)
    Floats8 y;
    std::memcpy(&y, &e_bits, sizeof y);
    sum += y;
    if (m == 8) {
      std::memcpy(w.data() + j, &y, sizeof y);
    } else {
      for (size_t l = 0; l < m; ++l) w[j + l] = y[l];
    }
  }
  return ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
}

}  // namespace llm
