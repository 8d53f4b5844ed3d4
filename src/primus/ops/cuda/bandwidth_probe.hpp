// Read-bandwidth probes: how fast `blocks` SMs (one 1024-thread block each) read `bytes`
// of device memory through per-thread 16-byte loads (in flight: what registers hold) or
// through the bulk copy engine into six 32 KB shared-memory stages (in flight: what shared
// memory holds). *sum (+)= one 32-bit word per 16 bytes read, so a caller can check that
// every byte was read. Diagnostics for the overlapped optimizer: the per-SM figure decides
// how few SMs can carry a memory-bound pass beside the GEMMs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// bytes: a multiple of 16.
void probe_read_ldg(const void* data, std::int64_t bytes, unsigned* sum, int blocks, cudaStream_t stream);
// bytes: a multiple of 32768.
void probe_read_bulk(const void* data, std::int64_t bytes, unsigned* sum, int blocks, cudaStream_t stream);

}  // namespace primus::ops::cuda
