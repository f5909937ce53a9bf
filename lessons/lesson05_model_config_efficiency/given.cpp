// given.cpp — lesson 05 code you are given, not asked to write: the input checks, overflow-checked
// 64-bit arithmetic and the number formatting of the table. Read it; call it from your steps. It is
// compiled into both the student and the reference build, unchanged.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "llm/errors.h"
#include "model_stats.h"
#include "roofline.h"

namespace llm {

void check_workload(const Workload& work) {
  if (work.batch < 1) fail<InvalidArgument>("workload batch = ", work.batch, " must be >= 1");
  if (work.past < 0) fail<InvalidArgument>("workload past = ", work.past, " cached positions must be >= 0");
  if (work.new_tokens < 1)
    fail<InvalidArgument>("workload new_tokens = ", work.new_tokens,
                          " must be >= 1: a forward call feeds a token");
}

void check_bytes_per_value(std::int64_t bytes_per_value) {
  check_range<InvalidArgument, std::int64_t>(bytes_per_value, 1, 8, "bytes_per_value");
}

void check_machine(const Machine& machine) {
  if (!(machine.peak_flops_per_s > 0.0) || !std::isfinite(machine.peak_flops_per_s))
    fail<InvalidArgument>("machine peak_flops_per_s = ", machine.peak_flops_per_s, " must be finite and > 0");
  if (!(machine.bytes_per_s > 0.0) || !std::isfinite(machine.bytes_per_s))
    fail<InvalidArgument>("machine bytes_per_s = ", machine.bytes_per_s, " must be finite and > 0");
}

void check_table_options(const TableOptions& options) {
  if (options.context < 1) fail<InvalidArgument>("table context = ", options.context, " must be >= 1");
  if (options.batch < 1) fail<InvalidArgument>("table batch = ", options.batch, " must be >= 1");
  check_bytes_per_value(options.bytes_per_value);
}

const char* bound_name(Bound bound) {
  switch (bound) {
    case Bound::kMemory:
      return "memory-bound";
    case Bound::kCompute:
      return "compute-bound";
  }
  return "unknown";
}

std::string format_count(std::int64_t n) {
  const bool negative = n < 0;
  // Digits of |n| without std::abs (INT64_MIN has no positive counterpart).
  std::string digits;
  std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + u % 10));
    u /= 10;
  } while (u > 0);
  std::string out = negative ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Three significant digits for 0 <= v < 1000 (a value that rounds up to 1000 is the caller's to avoid).
static std::string three_digits(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, v >= 99.95 ? "%.0f" : v >= 9.995 ? "%.1f" : "%.2f", v);
  return buf;
}

std::string format_bytes(std::int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1023.5 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  return three_digits(v) + " " + units[u];
}

std::string format_si(double value) {
  if (!std::isfinite(value) || value < 0.0) return std::to_string(value);
  static const char* const prefixes[] = {"", " k", " M", " G", " T", " P", " E"};
  int u = 0;
  while (value >= 999.5 && u < 6) {
    value /= 1000.0;
    ++u;
  }
  return three_digits(value) + prefixes[u];
}

}  // namespace llm
