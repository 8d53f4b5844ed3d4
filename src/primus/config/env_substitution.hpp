// ${VAR} and ${VAR:default} substitution inside string scalars, with Primus's
// retyping of substituted values (bool, int, float; untouched strings stay strings).
#pragma once

#include "primus/config/value.hpp"

namespace primus::config {

// Substitutes in every string scalar of the tree (keys are left alone).
// An unset ${VAR} without a default is a ConfigError naming the variable and file:line.
void substitute_env(Value& tree);

}  // namespace primus::config
