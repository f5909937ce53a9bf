// dump_json.h — the JSON-lines writing shared by the dump programs of `./llm compare`
// (compare_dump.cpp for lesson 04, probes.h for the other lessons): one object per line, flushed, so
// the driver still reads every line printed before a crash. Not a JSON library: strings, numbers, lists.
#pragma once

#include <cxxabi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace llm::dump {

// A JSON string literal: UTF-8 kept as is, quotes, backslashes and control characters escaped.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

template <typename T>
inline std::string list(const std::vector<T>& v) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  out << ']';
  return out.str();
}

inline std::string float_list(std::span<const float> v) {
  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    // JSON has no inf/nan: strings the driver turns back into floats.
    if (std::isnan(v[i])) {
      out += (i ? ",\"nan\"" : "\"nan\"");
      continue;
    }
    if (std::isinf(v[i])) {
      out += (i ? "," : "");
      out += v[i] > 0 ? "\"inf\"" : "\"-inf\"";
      continue;
    }
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", static_cast<double>(v[i]));
    out += buf;
  }
  return out + "]";
}

inline void emit(const std::string& object) { std::cout << object << '\n' << std::flush; }

inline std::string type_name(const std::exception& e) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : typeid(e).name();
  std::free(demangled);
  return name;
}

}  // namespace llm::dump
