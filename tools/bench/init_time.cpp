// Time model::init_parameters (the host-side initialisation both engines use) on an
// experiment's parameter layout: the part of `primus benchmark`'s launch time that does not
// depend on the GPU. Build and run from the repository root after `make` (build/ exists):
//   g++ -O3 -std=c++20 -fopenmp -Isrc tools/bench/init_time.cpp -o /tmp/init_time build/libprimus_core.a
//       -lyaml-cpp -lspdlog -lfmt -lz -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas   (one line)
//   /tmp/init_time examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "primus/config/build.hpp"
#include "primus/model/parameter_init.hpp"
#include "primus/model/parameter_layout.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <experiment.yaml>\n", argv[0]);
    return 2;
  }
  const auto c = primus::config::load_train_config(argv[1], {}, primus::config::BuildOptions{false, 1});
  const auto layout = primus::model::build_parameter_layout(c.model);
  const std::size_t n = static_cast<std::size_t>(layout.total_numel);
  const auto begin = std::chrono::steady_clock::now();
  std::unique_ptr<float[]> host(new float[n]);
  primus::model::init_parameters(layout, c.model, static_cast<std::uint64_t>(c.training.seed), {host.get(), n});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::printf("init_parameters: %zu values, %d threads, %.2f s (%.1f ns per value and thread)\n", n,
              omp_get_max_threads(), seconds, 1e9 * seconds * omp_get_max_threads() / static_cast<double>(n));
  return 0;
}
