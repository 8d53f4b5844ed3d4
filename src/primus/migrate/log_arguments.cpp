// Parses Megatron-LM's start-up argument dump (see log_arguments.hpp).
#include "primus/migrate/log_arguments.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace primus::migrate {
namespace {

constexpr std::string_view kBegin = " arguments ----";
constexpr std::string_view kEnd = " end of arguments ----";

// "[rank0]:   num_layers ........ 32" -> {"num_layers", "32"}; false when the line is not an entry.
bool parse_entry(std::string_view line, std::string& name, std::string& value) {
  auto dots = line.find(" ..");
  if (dots == std::string_view::npos) return false;
  auto name_end = dots;
  auto name_begin = line.find_last_of(" \t]:", name_end - 1);
  name_begin = name_begin == std::string_view::npos ? 0 : name_begin + 1;
  if (name_begin >= name_end) return false;
  name = std::string(line.substr(name_begin, name_end - name_begin));
  auto after = line.find_first_not_of('.', dots + 1);
  if (after == std::string_view::npos) {
    value.clear();
  } else {
    value = std::string(line.substr(after));
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
  return true;
}

}  // namespace

std::map<std::string, std::string> parse_logged_arguments(std::string_view text, const std::string& source) {
  std::map<std::string, std::string> block, last;
  bool inside = false, complete = false;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.find(kEnd) != std::string::npos) {
      if (inside) {
        last = std::move(block);
        complete = true;
      }
      inside = false;
      block.clear();
    } else if (line.find(kBegin) != std::string::npos && line.find("----") != std::string::npos) {
      inside = true;
      block.clear();
    } else if (inside) {
      std::string name, value;
      if (parse_entry(line, name, value)) block[name] = value;
    }
  }
  if (!complete)
    throw std::runtime_error(source + ": no Megatron-LM argument dump found (expected a block between "
                             "'------------------------ arguments ------------------------' and "
                             "'-------------------- end of arguments ---------------------')");
  if (last.empty()) throw std::runtime_error(source + ": the argument dump is empty");
  return last;
}

std::map<std::string, std::string> read_logged_arguments(const std::filesystem::path& log) {
  std::ifstream in(log);
  if (!in) throw std::runtime_error("cannot read the log " + log.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_logged_arguments(text.str(), log.string());
}

}  // namespace primus::migrate
