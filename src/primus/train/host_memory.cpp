#include "primus/train/host_memory.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace primus::train {
namespace {

// A "Key:   123 kB" line of /proc/meminfo, in bytes; 0 when absent.
std::uint64_t meminfo_bytes(const std::string& text, const std::string& key) {
  const auto at = text.find(key + ":");
  if (at == std::string::npos) return 0;
  std::istringstream line(text.substr(at + key.size() + 1));
  std::uint64_t kib = 0;
  line >> kib;
  return kib * 1024;
}

}  // namespace

log::MemoryUsage host_memory_usage() {
  log::MemoryUsage usage;
  usage.source = "cpu";
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    usage.used_bytes = resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  }
  std::ifstream meminfo("/proc/meminfo");
  std::stringstream text;
  text << meminfo.rdbuf();
  usage.total_bytes = meminfo_bytes(text.str(), "MemTotal");
  usage.free_bytes = meminfo_bytes(text.str(), "MemAvailable");
  return usage;
}

}  // namespace primus::train
