// parse_number.h — strict number parsing for the command-line programs (generate, compare_dump, lesson
// 05's report): the whole text must be a number of the type, or an error of type E names the flag, the
// text and (when out of range) the type's range. Not here: flag loops and defaults (each program's own).
#pragma once

#include <charconv>
#include <limits>
#include <string_view>
#include <type_traits>

#include "llm/errors.h"

namespace llm {

template <typename T, typename E = InvalidArgument>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range)
    fail<E>(flag, " value '", text, "' is out of range [", std::numeric_limits<T>::lowest(), ", ",
            std::numeric_limits<T>::max(), "]");
  if (ec != std::errc() || ptr != end || text.empty()) {
    const char* kind = std::is_floating_point_v<T> ? "a number"
                       : std::is_signed_v<T>       ? "an integer"
                                                   : "an unsigned integer";
    fail<E>(flag, " expects ", kind, ", got '", text, "'");
  }
  return value;
}

}  // namespace llm
