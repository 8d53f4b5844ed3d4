#!/bin/bash
# Test script: stops before launching anything, as a script with a missing input does.
set -e
echo "preparing data"
echo "error: dataset /no/such/dataset not found" >&2
exit 3
torchrun --nproc_per_node 8 pretrain_gpt.py --num-layers 2
