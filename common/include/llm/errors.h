// errors.h — the typed exceptions of LLM Lab and the check helpers that build their messages.
// Every message names the offending value and the limit it broke; nothing here aborts or asserts.
#pragma once

#include <charconv>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace llm {

// Root of every error the project throws on purpose. Catch this in a CLI to print one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value outside its allowed range (a flag, a sampling parameter, a token id, a config field).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Tensor shapes that do not fit together (wrong rank, wrong dimension, mismatched batch).
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A model, tokenizer or other file that is truncated, corrupt, absurd or of the wrong kind.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be found or read.
class IoError : public Error {
 public:
  using Error::Error;
};

// Thrown by every lesson stub: "lesson04 step 3: build the causal mask". Tests catch nothing of it,
// so an unfinished step fails exactly the test cases that need it.
class NotImplemented : public Error {
 public:
  using Error::Error;
};

namespace detail {
// A float or double as the shortest text that reads back as the same value ("1.0000001", "0.1",
// "1e-38"): a message must not say "top_p = 1" about 1.0000001.
template <typename T>
void put(std::ostringstream& out, const T& part) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, part);
    if (ec == std::errc()) {
      out.write(buf, end - buf);
      return;
    }
  }
  out << part;
}

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (put(out, parts), ...);
  return out.str();
}
}  // namespace detail

// Build a message from any streamable parts: fail<InvalidArgument>("top_p = ", p, " must be in (0, 1]").
template <typename E = Error, typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw E(detail::concat(parts...));
}

// check_* helpers. `what` names the quantity; the value and the limit are printed.
template <typename E = InvalidArgument, typename T>
inline void check_positive(T value, std::string_view what) {
  if (!(value > T{0})) fail<E>(what, " = ", value, " must be > 0");
}

// lo <= value < hi
template <typename E = InvalidArgument, typename T>
inline void check_index(T value, T hi, std::string_view what) {
  if (value < T{0} || value >= hi) fail<E>(what, " = ", value, " is out of range [0, ", hi, ")");
}

// lo <= value <= hi
template <typename E = InvalidArgument, typename T>
inline void check_range(T value, T lo, T hi, std::string_view what) {
  if (!(value >= lo && value <= hi)) fail<E>(what, " = ", value, " must be in [", lo, ", ", hi, "]");
}

}  // namespace llm
