// What the kernels' launch shapes depend on about the current device, queried once.
#pragma once

namespace primus::ops::cuda {

// Streaming multiprocessors of the current device (132 on an H100 SXM), cached on first use.
int device_sm_count();

}  // namespace primus::ops::cuda
