// doctest_strings.h — how doctest 2.4.9 prints values in failure messages, for every test program
// (test_support.h includes it; so does the shared doctest main, so every translation unit agrees).
//   const char* / char*  as their text: doctest prints a pointer variable as an address (0x5556...),
//                         so a helper's `const char* what` or a CAPTURE of a name field said nothing;
//   std::vector<T>       as its values, "{1, 403, 407}" (at most 64, then a count), not "{?}".
#pragma once

#include <doctest/doctest.h>

#include <sstream>
#include <vector>

namespace doctest {

template <>
struct StringMaker<const char*> {
  static String convert(const char* s) { return s != nullptr ? String(s) : String("(null)"); }
};

template <>
struct StringMaker<char*> {
  static String convert(char* s) { return s != nullptr ? String(s) : String("(null)"); }
};

template <typename T>
struct StringMaker<std::vector<T>> {
  static String convert(const std::vector<T>& v) {
    std::ostringstream out;
    out << '{';
    for (size_t i = 0; i < v.size() && i < 64; ++i) out << (i ? ", " : "") << toString(v[i]).c_str();
    if (v.size() > 64) out << ", ... (" << v.size() << " values)";
    out << '}';
    return String(out.str().c_str());
  }
};

}  // namespace doctest
