#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "primus/train/cpu_engine.hpp"
#include "primus/train/engine.hpp"

namespace primus::train {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<EngineBackend> backends;
};

// Function-local so that backends registering during static initialisation find it built.
Registry& registry() {
  static Registry instance;
  return instance;
}

void ensure_cpu_registered(Registry& r) {
  const bool has_cpu = std::any_of(r.backends.begin(), r.backends.end(),
                                   [](const EngineBackend& b) { return b.name == "cpu"; });
  if (!has_cpu) {
    r.backends.push_back({"cpu", 0, [] { return true; },
                          [](const config::TrainConfig& c) -> std::unique_ptr<TrainingEngine> {
                            return std::make_unique<CpuEngine>(c);
                          }});
  }
}

}  // namespace

void register_engine_backend(EngineBackend backend) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.backends.push_back(std::move(backend));
}

std::vector<std::pair<std::string, bool>> engine_backends() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  ensure_cpu_registered(r);
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& b : r.backends) out.emplace_back(b.name, b.available());
  return out;
}

std::unique_ptr<TrainingEngine> make_engine(const config::TrainConfig& config) {
  auto& r = registry();
  std::unique_lock lock(r.mutex);
  ensure_cpu_registered(r);
  const std::string& wanted = config.training.backend;
  const EngineBackend* chosen = nullptr;
  std::string names;
  for (const auto& b : r.backends) {
    names += (names.empty() ? "" : ", ") + b.name;
    if (wanted == "auto") {
      if (b.available() && (chosen == nullptr || b.priority > chosen->priority)) chosen = &b;
    } else if (b.name == wanted) {
      if (!b.available()) {
        throw std::runtime_error(fmt::format("backend: {} is not available on this machine (no device found)", wanted));
      }
      chosen = &b;
    }
  }
  if (chosen == nullptr) {
    throw std::runtime_error(fmt::format("backend: '{}' is not built into this binary (built: {}; or use auto)",
                                         wanted, names));
  }
  auto create = chosen->create;
  lock.unlock();
  return create(config);
}

}  // namespace primus::train
