// Integer settings read from environment variables (launcher variables, the CUDA engine's
// PRIMUS_* diagnostics switches): one parse, one error for a value that is not an integer in
// range, so no switch silently takes "yes" or "off" for its default.
#pragma once

namespace primus::config {

// The integer in `name`, or `fallback` when it is unset or empty; std::invalid_argument naming
// the variable, its text and [low, high] when it is anything else.
int integer_from_environment(const char* name, int fallback, int low, int high);

}  // namespace primus::config
