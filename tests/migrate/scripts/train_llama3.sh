#!/bin/bash
# Test script in the shape of ROCm Megatron-LM's examples/llama/train_llama3.sh
# (our own text): ${VAR:-default} settings, the architecture chosen by MODEL_SIZE,
# argument strings grown over several variables, and an eval'd torchrun launch.
set -e

export CUDA_DEVICE_MAX_CONNECTIONS=1
export GPU_MAX_HW_QUEUES=2

rocm-smi > /dev/null 2>&1 || true
python3 -c "import torch; print(torch.cuda.device_count())" > /dev/null

TEE_OUTPUT="${TEE_OUTPUT:-1}"
TE_FP8="${TE_FP8:-0}"
MOCK_DATA="${MOCK_DATA:-1}"
MODEL_SIZE="${MODEL_SIZE:-8}"
TP="${TP:-8}"
PP="${PP:-1}"
CP="${CP:-1}"
MBS="${MBS:-2}"
BS="${BS:-128}"
SEQ_LENGTH="${SEQ_LENGTH:-8192}"
TOTAL_ITERS="${TOTAL_ITERS:-20}"
LR="${LR:-1.5e-4}"
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-localhost}"
MASTER_PORT="${MASTER_PORT:-23731}"

EXPERIMENT_DIR="experiment"
mkdir -p $EXPERIMENT_DIR
CHECKPOINT_PATH="${CHECKPOINT_PATH:-$EXPERIMENT_DIR/ckpts}"
DATA_PATH="${DATA_PATH:-/data/llama3/bookcorpus_text_sentence}"
TOKENIZER_MODEL="${TOKENIZER_MODEL:-meta-llama/Meta-Llama-3-8B}"
TRAIN_LOG="${EXPERIMENT_DIR}/train_llama3_${MODEL_SIZE}B.log"

if [[ $MODEL_SIZE -eq 8 ]]; then
    HIDDEN_SIZE=4096
    FFN_HIDDEN_SIZE=14336
    NUM_LAYERS=32
    NUM_HEADS=32
    NUM_KV_HEADS=8
elif [[ $MODEL_SIZE -eq 70 ]]; then
    HIDDEN_SIZE=8192
    FFN_HIDDEN_SIZE=28672
    NUM_LAYERS=80
    NUM_HEADS=64
    NUM_KV_HEADS=8
else
    echo "Model size not supported: $MODEL_SIZE (expected 8 or 70)" >&2
    exit 1
fi

GPT_ARGS="
    --tensor-model-parallel-size ${TP} \
    --pipeline-model-parallel-size ${PP} \
    --context-parallel-size ${CP} \
    --num-layers $NUM_LAYERS \
    --hidden-size $HIDDEN_SIZE \
    --ffn-hidden-size $FFN_HIDDEN_SIZE \
    --num-attention-heads $NUM_HEADS \
    --seq-length $SEQ_LENGTH \
    --max-position-embeddings $SEQ_LENGTH \
    --untie-embeddings-and-output-weights \
    --position-embedding-type rope \
    --rotary-base 500000 \
    --normalization RMSNorm \
    --norm-epsilon 1e-05 \
    --swiglu \
    --disable-bias-linear \
    --group-query-attention \
    --num-query-groups $NUM_KV_HEADS \
    --attention-dropout 0.0 \
    --hidden-dropout 0.0 \
    --init-method-std 0.02 \
    --sequence-parallel \
    --use-distributed-optimizer \
    --use-flash-attn \
"

if [ "$TE_FP8" -eq 1 ]; then
    GPT_ARGS="$GPT_ARGS --transformer-impl transformer_engine --fp8-format hybrid --fp8-amax-history-len 1024"
fi

TRAIN_ARGS="--lr $LR \
    --min-lr 1.5e-5 \
    --lr-decay-style cosine \
    --lr-warmup-iters 2 \
    --weight-decay 0.1 \
    --adam-beta1 0.9 \
    --adam-beta2 0.95 \
    --clip-grad 1.0 \
    --micro-batch-size $MBS \
    --global-batch-size $BS \
    --train-iters $TOTAL_ITERS \
    --bf16 \
"

if [ "$MOCK_DATA" -eq 1 ]; then
    DATA_ARGS="--mock-data"
else
    DATA_ARGS="--data-path $DATA_PATH --split 949,50,1"
fi
DATA_ARGS="$DATA_ARGS \
    --tokenizer-type HuggingFaceTokenizer \
    --tokenizer-model $TOKENIZER_MODEL \
    --dataloader-type cyclic \
"

OUTPUT_ARGS="
    --log-interval 1 \
    --save-interval 5000 \
    --eval-interval 320000 \
    --eval-iters 0 \
    --save $CHECKPOINT_PATH \
    --log-throughput \
"

EXTRA_ARGS="
    --no-masked-softmax-fusion \
    --no-bias-swiglu-fusion \
    --no-rope-fusion \
    --distributed-backend nccl \
    --enable-custom-rocm-kernels 1 \
"

DISTRIBUTED_ARGS="--nproc_per_node $GPUS_PER_NODE --nnodes $NNODES --node_rank $NODE_RANK --master_addr $MASTER_ADDR --master_port $MASTER_PORT"

run_cmd="torchrun $DISTRIBUTED_ARGS pretrain_gpt.py $GPT_ARGS $TRAIN_ARGS $DATA_ARGS $OUTPUT_ARGS $EXTRA_ARGS"

echo "$run_cmd"
if [ "$TEE_OUTPUT" -eq 0 ]; then
    eval $run_cmd > $TRAIN_LOG 2>&1
else
    eval $run_cmd 2>&1 | tee $TRAIN_LOG
fi

# After training: summarise the log (a Python helper that is not the training launch).
python3 summarize_throughput.py --log $TRAIN_LOG --out $EXPERIMENT_DIR/summary.txt
echo "done"
