// integer_from_environment: strtol over the whole text (no leading blanks), then the range.
#include "primus/config/environment.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace primus::config {

int integer_from_environment(const char* name, int fallback, int low, int high) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  const bool starts_as_number = std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' || text[0] == '+';
  if (!starts_as_number || *end != '\0' || errno == ERANGE || value < low || value > high)
    throw std::invalid_argument(std::string(name) + " = '" + text + "': expected an integer in [" +
                                std::to_string(low) + ", " + std::to_string(high) + "]");
  return static_cast<int>(value);
}

}  // namespace primus::config
