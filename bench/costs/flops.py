"""FLOPs per token for the model families we train, hardware peaks, and model FLOPs utilization.

All counts are dense matrix-multiply FLOPs (one multiply-add = 2 FLOPs); element-wise work
(activations, norms, gate nonlinearities, softmax) is left out, as in the sources cited below.
Training costs three forward passes: the backward pass computes gradients with respect to both
activations and weights, each about as costly as the forward matmul.
"""

from __future__ import annotations

from bench.errors import BenchError

DTYPES = ("fp32", "tf32", "bf16", "fp16")


def transformer_train_flops_per_token(
    n_dense_params: int, n_layers: int, d_model: int, seq_len: int
) -> float:
    """Training FLOPs per token of a transformer: 6·N + 12·L·d·T.

    6·N: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1 (2·N forward,
    times 3 for forward + backward); N counts the non-embedding weights, since an embedding
    lookup is not a matmul. 12·L·d·T: the attention scores and the weighted sum of values,
    2·T·d each per token and layer in the forward pass, times 3 (Chowdhery et al. 2022, "PaLM",
    appendix B; the same formula as nanoGPT's `estimate_mfu`). An encoder attends over the whole
    sequence, so no causal halving applies.
    """
    return 6.0 * n_dense_params + 12.0 * n_layers * d_model * seq_len


def lstm_forward_flops_per_token(
    input_size: int, hidden_size: int, bidirectional: bool = True, num_layers: int = 1
) -> float:
    """Forward FLOPs per token of a (stacked) LSTM: 2·4·h·(in + h) per direction and layer.

    Each step computes four gates, each W·x (h×in) plus U·h (h×h): 4·h·(in + h) multiply-adds
    (Hochreiter & Schmidhuber 1997; the cuDNN LSTM equations). Layers after the first take the
    concatenated outputs of all directions as input.
    """
    directions = 2 if bidirectional else 1
    total = 0.0
    layer_input = input_size
    for _ in range(num_layers):
        total += directions * 2.0 * 4 * hidden_size * (layer_input + hidden_size)
        layer_input = directions * hidden_size
    return total


def lstm_train_flops_per_token(
    input_size: int, hidden_size: int, bidirectional: bool = True, num_layers: int = 1
) -> float:
    """Training FLOPs per token of an LSTM: the forward count times 3 (forward + backward)."""
    return 3.0 * lstm_forward_flops_per_token(input_size, hidden_size, bidirectional, num_layers)


# Peak dense tensor-core (or CUDA-core for fp32) TFLOP/s from NVIDIA's datasheets. Datasheets
# print the tensor figures "with sparsity"; the dense figure is half of that. fp16/bf16 are with
# fp32 accumulation, which is what PyTorch uses. A dtype missing from an entry has no hardware
# support (Volta and Turing have no bf16 or tf32 tensor cores), so MFU for it is not defined.
# Keys are fragments of the name NVML reports (e.g. "NVIDIA H100 80GB HBM3" is the SXM5 card).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    # H100 SXM5 datasheet: fp32 67, tf32 989*, bf16/fp16 1979* (*sparse).
    "H100 SXM": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "fp16": 989.5},
    "H100 80GB HBM3": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "fp16": 989.5},
    # H100 PCIe datasheet: fp32 51, tf32 756*, bf16/fp16 1513*.
    "H100 PCIe": {"fp32": 51.0, "tf32": 378.0, "bf16": 756.5, "fp16": 756.5},
    # H200 SXM datasheet: the H100 SXM compute with more memory: fp32 67, tf32 989*, bf16 1979*.
    "H200": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "fp16": 989.5},
    # H200 NVL datasheet: fp32 60, tf32 835*, bf16/fp16 1671*.
    "H200 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5},
    # A100 (SXM4 and PCIe, 40 and 80 GB) datasheet: fp32 19.5, tf32 156, bf16/fp16 312 dense.
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
    # L4 datasheet: fp32 30.3, tf32 120*, bf16/fp16 242*.
    "L4": {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0},
    # Ada whitepaper, RTX 4090: fp32 82.6, tf32 82.6, bf16 and fp16 (fp32 accumulate) 165.2.
    "RTX 4090": {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2},
    # RTX 4060 Laptop: NVIDIA states 233 AI TOPS (fp8, sparse) at the highest boost clock,
    # i.e. 58.3 dense fp16 with fp16 accumulate, half that with fp32 accumulate; 3072 cores ×
    # 2 × 2.37 GHz = 14.6 fp32. Laptops with a lower power limit run slower, so MFU there is low.
    "RTX 4060 Laptop": {"fp32": 14.6, "tf32": 14.6, "bf16": 29.1, "fp16": 29.1},
    # T4 datasheet: fp32 8.1, fp16 (mixed precision) 65; no bf16 or tf32.
    "T4": {"fp32": 8.1, "fp16": 65.0},
    # V100 datasheet: SXM2 fp32 15.7 / tensor 125, PCIe 14 / 112, V100S PCIe 16.4 / 130.
    "V100-SXM2": {"fp32": 15.7, "fp16": 125.0},
    "V100-PCIE": {"fp32": 14.0, "fp16": 112.0},
    "V100S": {"fp32": 16.4, "fp16": 130.0},
}


def _contains_word(name: str, fragment: str) -> bool:
    """Whether `fragment` occurs in `name` not glued to letters or digits ("L4" not in "L40S")."""
    start = name.find(fragment)
    while start != -1:
        end = start + len(fragment)
        before_ok = start == 0 or not name[start - 1].isalnum()
        after_ok = end == len(name) or not name[end].isalnum()
        if before_ok and after_ok:
            return True
        start = name.find(fragment, start + 1)
    return False


def peak_tflops(gpu_name: str | None, dtype: str) -> float | None:
    """The dense peak TFLOP/s of `gpu_name` for `dtype`, or None for an unknown GPU or dtype.

    Matches table keys as case-insensitive substrings of the name; the longest match wins, so
    "H100 PCIe" beats a shorter key. A key must not run into adjacent letters or digits, so
    "T4" does not match a "T400".
    """
    if dtype not in DTYPES:
        raise BenchError(f"unknown dtype {dtype!r} for peak FLOPs; expected one of {DTYPES}")
    if not gpu_name:
        return None
    name = gpu_name.lower()
    matches = [key for key in PEAK_TFLOPS if _contains_word(name, key.lower())]
    if not matches:
        return None
    return PEAK_TFLOPS[max(matches, key=len)].get(dtype)


def mfu(flops: float, seconds: float, gpu_name: str | None, dtype: str) -> float | None:
    """Model FLOPs utilization: achieved FLOP/s over the GPU's dense peak for `dtype`.

    None on CPU (no `gpu_name`), for a GPU or dtype without a known peak, or without elapsed
    time: a guessed peak would make the column look comparable when it is not.
    """
    peak = peak_tflops(gpu_name, dtype)
    if peak is None or seconds <= 0:
        return None
    return flops / seconds / (peak * 1e12)


def train_flops_per_sample(
    n_dense_params: int,
    n_layers: int,
    d_model: int,
    tokens: float,
    lstm_input: int = 0,
    lstm_hidden: int = 0,
) -> float:
    """Training FLOPs for one review of `tokens` non-padding tokens: the transformer term at
    sequence length `tokens`, plus the BiLSTM term where the model has one. Padding is left out:
    it is work the hardware does, not work the model needs."""
    per_token = transformer_train_flops_per_token(n_dense_params, n_layers, d_model, round(tokens))
    if lstm_hidden:
        per_token += lstm_train_flops_per_token(lstm_input, lstm_hidden)
    return per_token * tokens
