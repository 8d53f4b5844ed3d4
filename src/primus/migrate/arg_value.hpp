// A migrated setting's value: a typed YAML scalar or a list of them, built from
// command-line text, a Python repr or YAML text, and compared the way YAML reads it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "primus/migrate/megatron_flags.hpp"

namespace primus::migrate {

enum class ScalarKind { Null, Bool, Int, Float, String };

struct Scalar {
  ScalarKind kind = ScalarKind::Null;
  std::string text;  // YAML text for Null/Bool/Int/Float ("null", "true", "8", "3.0e-04"); the raw string for String
};

struct ArgValue {
  bool is_list = false;
  std::vector<Scalar> items;  // exactly one when !is_list
};

Scalar null_scalar();
Scalar bool_scalar(bool value);

// Types text the way a YAML reader would (null/bool/int/float, else a string).
Scalar scalar_from_text(std::string_view text);

// Types command-line text by the flag's declared type; throws std::invalid_argument
// naming the expected type when the text does not parse as it.
Scalar typed_scalar(std::string_view text, FlagValueType type);

// A float written so that every YAML 1.1 and 1.2 reader reads a float back ("1.0e-05", "0.1", "3.0").
std::string format_float(double value);

ArgValue scalar_value(Scalar scalar);

// Equal as settings: numbers numerically (8 == 8.0), others by kind and text; [x] equals x.
bool same_scalar(const Scalar& a, const Scalar& b);
bool same_value(const ArgValue& a, const ArgValue& b);

// One-line rendering for reports: 8, 3.0e-04, LayerNorm, [a, b], null.
std::string display_value(const ArgValue& value);

}  // namespace primus::migrate
