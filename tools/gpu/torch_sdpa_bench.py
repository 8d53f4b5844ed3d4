"""Side-by-side for docs/cuda_notes.md: PyTorch's SDPA on its cuDNN backend at the
Llama 3 8B attention shape (b 1, s 8192, 32 q heads, 8 kv heads, d 128, causal) and a
bf16 8192^3 matmul and the Llama 3 8B linear GEMMs, timed like our benchmark (CUDA events, median of 30 after 5 warm-ups).
usage: python3 tools/gpu/torch_sdpa_bench.py [--attention-only B S HQ HKV D]
  --attention-only: only the attention timings, at that shape (e.g. 2 4096 32 8 64, Llama 3.2 1B
  at seq 4096 micro batch 2), on each SDPA backend PyTorch offers there (cuDNN, flash).
"""
import sys
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, warmup=5, repeats=30):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def attention_only(b, s, hq, hkv, d):
    q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    grad = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16)
    forward_flops = 4 * b * s * s * hq * d / 2
    for name, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
        with sdpa_kernel(backend):
            def forward():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

            def forward_backward():
                F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).backward(grad)
            try:
                fwd, both = median_ms(forward), median_ms(forward_backward)
            except RuntimeError as error:
                print(f"TORCH sdpa {name} b{b} s{s} hq{hq} hkv{hkv} d{d}: refused ({str(error).splitlines()[0]})")
                continue
        print(f"TORCH sdpa {name} b{b} s{s} hq{hq} hkv{hkv} d{d}: forward {fwd:.3f} ms "
              f"{forward_flops / fwd / 1e9:.1f} TFLOP/s, fwd+bwd {both:.3f} ms {3.5 * forward_flops / both / 1e9:.1f} TFLOP/s")


def main():
    torch.manual_seed(0)
    print(f"TORCH {torch.__version__} cudnn {torch.backends.cudnn.version()} {torch.cuda.get_device_name()}")
    if len(sys.argv) == 7 and sys.argv[1] == "--attention-only":
        attention_only(*(int(x) for x in sys.argv[2:]))
        return
    b, s, hq, hkv, d = 1, 8192, 32, 8, 128
    q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    forward_flops = 4 * b * s * s * hq * d / 2
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        try:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            kk, vv, mode = k, v, "enable_gqa"
        except RuntimeError as error:
            print("TORCH cuDNN SDPA refused enable_gqa:", str(error).splitlines()[0])
            kk = k.repeat_interleave(hq // hkv, dim=1).detach().requires_grad_()
            vv = v.repeat_interleave(hq // hkv, dim=1).detach().requires_grad_()
            mode = "K/V repeated to 32 heads"
        grad = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16)

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, kk, vv, is_causal=True, enable_gqa=(mode == "enable_gqa"))

        def forward_backward():
            o = F.scaled_dot_product_attention(q, kk, vv, is_causal=True, enable_gqa=(mode == "enable_gqa"))
            o.backward(grad)

        ms = median_ms(forward)
        print(f"TORCH sdpa cudnn forward ({mode}) {ms:.3f} ms {forward_flops / ms / 1e9:.1f} TFLOP/s")
        ms = median_ms(forward_backward)
        print(f"TORCH sdpa cudnn fwd+bwd ({mode}) {ms:.3f} ms {3.5 * forward_flops / ms / 1e9:.1f} TFLOP/s")
    # The Llama 3 8B linear layers at 8192 tokens (bf16 outputs; ours accumulate dW in fp32).
    tokens = 8192
    for name, fan_in, fan_out in (("qkv", 4096, 6144), ("o", 4096, 4096), ("fc1", 4096, 28672), ("fc2", 14336, 4096)):
        x = torch.randn(tokens, fan_in, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(fan_out, fan_in, device="cuda", dtype=torch.bfloat16)
        dy = torch.randn(tokens, fan_out, device="cuda", dtype=torch.bfloat16)
        flops = 2 * tokens * fan_in * fan_out
        for label, fn in (("forward", lambda: F.linear(x, w)), ("d_input", lambda: dy @ w),
                          ("d_weight(bf16)", lambda: dy.t() @ x)):
            ms = median_ms(fn)
            print(f"TORCH linear {name} {label} {tokens}x{fan_in}x{fan_out} {ms:.3f} ms {flops / ms / 1e9:.1f} TFLOP/s")
        del x, w, dy
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    bm = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = median_ms(lambda: a @ bm)
    print(f"TORCH matmul bf16 8192^3 {ms:.3f} ms {2 * 8192**3 / ms / 1e9:.1f} TFLOP/s")


if __name__ == "__main__":
    main()
