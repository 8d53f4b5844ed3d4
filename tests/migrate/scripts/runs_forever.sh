#!/bin/bash
# Test script: never reaches its launch (the migration's timeout must stop it).
sleep 30
torchrun --nproc_per_node 8 pretrain_gpt.py --num-layers 2
