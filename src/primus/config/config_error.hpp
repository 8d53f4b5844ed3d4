// ConfigError: every problem found while loading, composing or checking a
// configuration (file, key, value and what was expected are in the message).
#pragma once

#include <stdexcept>
#include <string>

namespace primus::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace primus::config
