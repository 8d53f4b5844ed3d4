// Typing, formatting and comparing migrated values (see arg_value.hpp).
#include "primus/migrate/arg_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace primus::migrate {
namespace {

bool parse_int(std::string_view text, long long& out) {
  if (text.empty()) return false;
  std::string_view digits = text;
  if (digits.front() == '+') digits.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc{} && ptr == digits.data() + digits.size();
}

bool parse_float(std::string_view text, double& out) {
  if (text.empty()) return false;
  std::string owned(text);
  // strtod also reads hex and "infinity"; Python's float() accepts the decimal forms we need.
  if (owned.find_first_of("xXpP") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(owned.c_str(), &end);
  return end == owned.c_str() + owned.size();
}

bool is_number(const Scalar& s) { return s.kind == ScalarKind::Int || s.kind == ScalarKind::Float; }

}  // namespace

Scalar null_scalar() { return {ScalarKind::Null, "null"}; }
Scalar bool_scalar(bool value) { return {ScalarKind::Bool, value ? "true" : "false"}; }

std::string format_float(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip text
  std::string text(buf, ptr);
  auto exp = text.find('e');
  std::string mantissa = text.substr(0, exp);
  std::string exponent = exp == std::string::npos ? "" : text.substr(exp + 1);
  // PyYAML (YAML 1.1) reads a float only with a '.' in the mantissa and a signed exponent.
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (exponent.empty()) return mantissa;
  if (exponent.front() != '-' && exponent.front() != '+') exponent = "+" + exponent;
  if (exponent.size() == 2) exponent.insert(1, "0");
  return mantissa + "e" + exponent;
}

Scalar scalar_from_text(std::string_view text) {
  if (text == "null" || text == "~" || text == "None" || text == "Null" || text == "NULL") return null_scalar();
  if (text == "true" || text == "True" || text == "TRUE") return bool_scalar(true);
  if (text == "false" || text == "False" || text == "FALSE") return bool_scalar(false);
  long long i = 0;
  if (parse_int(text, i)) return {ScalarKind::Int, std::to_string(i)};
  double d = 0;
  if (parse_float(text, d) && text.find_first_not_of("+-0123456789.eE") == std::string_view::npos)
    return {ScalarKind::Float, format_float(d)};
  return {ScalarKind::String, std::string(text)};
}

Scalar typed_scalar(std::string_view text, FlagValueType type) {
  switch (type) {
    case FlagValueType::Int: {
      long long i = 0;
      if (!parse_int(text, i)) throw std::invalid_argument("expected an integer, got '" + std::string(text) + "'");
      return {ScalarKind::Int, std::to_string(i)};
    }
    case FlagValueType::Float: {
      double d = 0;
      if (!parse_float(text, d)) throw std::invalid_argument("expected a number, got '" + std::string(text) + "'");
      return {ScalarKind::Float, format_float(d)};
    }
    case FlagValueType::Str:
      return {ScalarKind::String, std::string(text)};
    case FlagValueType::Auto:
      break;
  }
  return scalar_from_text(text);
}

ArgValue scalar_value(Scalar scalar) { return ArgValue{false, {std::move(scalar)}}; }

bool same_scalar(const Scalar& a, const Scalar& b) {
  if (is_number(a) && is_number(b)) {
    double x = 0, y = 0;
    parse_float(a.text, x);
    parse_float(b.text, y);
    return x == y;
  }
  return a.kind == b.kind && a.text == b.text;
}

bool same_value(const ArgValue& a, const ArgValue& b) {
  // A one-element list and its element are the same setting (Megatron accepts cp_comm_type: p2p for [p2p]).
  if (a.is_list != b.is_list && a.items.size() == 1 && b.items.size() == 1) return same_scalar(a.items[0], b.items[0]);
  if (a.is_list != b.is_list || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!same_scalar(a.items[i], b.items[i])) return false;
  return true;
}

std::string display_value(const ArgValue& value) {
  if (!value.is_list) return value.items.empty() ? "null" : value.items.front().text;
  std::string out = "[";
  for (size_t i = 0; i < value.items.size(); ++i) out += (i ? ", " : "") + value.items[i].text;
  return out + "]";
}

}  // namespace primus::migrate
