// Host memory figures for the iteration line on the CPU backend: this process's
// resident set and the machine's total/available memory (Linux /proc).
#pragma once

#include "primus/log/iteration_log.hpp"

namespace primus::train {

// source "cpu"; used = resident set of this process; free = MemAvailable; total = MemTotal.
// Fields stay 0 where /proc cannot be read (non-Linux).
log::MemoryUsage host_memory_usage();

}  // namespace primus::train
