// Checking flat settings against the schema (key_spec.hpp): unknown keys (with a
// did-you-mean suggestion), wrong types, null where null is not allowed, and
// known-but-unimplemented keys set to a non-default value (one warning; an error under strict).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "primus/config/diagnostics.hpp"
#include "primus/config/key_spec.hpp"
#include "primus/config/resolved_config.hpp"

namespace primus::config {

void check_against_schema(const FlatSettings& settings, bool strict, Diagnostics& diagnostics);

// The closest of `candidates` by edit distance, or "" when none is close enough to be a typo.
std::string closest_name(std::string_view unknown, const std::vector<std::string_view>& candidates);

// The closest known schema key, or "".
std::string suggest_key(std::string_view unknown);

// Whether `value` has the schema type (null counts when the key is nullable).
bool matches_type(const Value& value, const KeySpec& spec);

std::string_view type_name(KeyType type);

// The schema default as a Value (null when the default is null).
Value default_value(const KeySpec& spec);

}  // namespace primus::config
