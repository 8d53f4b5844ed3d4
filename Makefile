# The two commands a newcomer types: `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CONFIG ?= examples/megatron/configs/tiny_llama-pretrain.yaml
CMAKE_FLAGS ?=
# OpenMP threads that spin while idle steal the cores OpenBLAS needs (2-core machines).
export OMP_WAIT_POLICY ?= passive

.PHONY: all deps configure build run test clean

all: build

deps:
	@tools/setup/install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/primus train pretrain --config $(CONFIG) $(ARGS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

clean:
	rm -rf $(BUILD_DIR)
