"""FLOPs formulas against hand-computed cases, and the peak-TFLOP/s lookup behind MFU."""

from __future__ import annotations

import pytest

from bench.costs.flops import (
    lstm_forward_flops_per_token,
    lstm_train_flops_per_token,
    mfu,
    peak_tflops,
    transformer_train_flops_per_token,
)
from bench.errors import BenchError


def test_transformer_train_flops_by_hand():
    # BERT-base-like: 85M non-embedding weights, 12 layers, d=768, 128 tokens.
    # 6 * 85e6 = 510e6; 12 * 12 * 768 * 128 = 14_155_776.
    assert transformer_train_flops_per_token(85_000_000, 12, 768, 128) == 510_000_000 + 14_155_776


def test_lstm_flops_by_hand():
    # in=300, h=256: 2 * 4 * 256 * (300 + 256) = 1_138_688 per direction.
    assert lstm_forward_flops_per_token(300, 256, bidirectional=False) == 1_138_688
    assert lstm_forward_flops_per_token(300, 256) == 2 * 1_138_688
    assert lstm_train_flops_per_token(300, 256) == 3 * 2 * 1_138_688


def test_stacked_lstm_second_layer_reads_both_directions():
    # layer 2 input is 2 * 10 = 20: 2 dirs * 8 * 10 * (20 + 10) = 4800; layer 1: 2*8*10*15 = 2400
    assert lstm_forward_flops_per_token(5, 10, bidirectional=True, num_layers=2) == 2400 + 4800


@pytest.mark.parametrize(
    ("name", "dtype", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.5),  # SXM5, as NVML names it
        ("NVIDIA H100 PCIe", "bf16", 756.5),  # the longer key wins over any H100 entry
        ("NVIDIA H200", "fp16", 989.5),
        ("NVIDIA H200 NVL", "bf16", 835.5),
        ("NVIDIA A100-SXM4-80GB", "tf32", 156.0),
        ("nvidia l4", "fp32", 30.3),  # case-insensitive
        ("NVIDIA GeForce RTX 4090", "bf16", 165.2),
        ("NVIDIA GeForce RTX 4060 Laptop GPU", "fp16", 29.1),
        ("Tesla T4", "fp16", 65.0),
        ("Tesla V100-SXM2-16GB", "fp32", 15.7),
    ],
)
def test_peak_lookup(name, dtype, expected):
    assert peak_tflops(name, dtype) == expected


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        (None, "bf16"),  # CPU
        ("NVIDIA L40S", "bf16"),  # "L4" must not match inside "L40S"
        ("NVIDIA T400", "fp32"),  # nor "T4" inside "T400"
        ("NVIDIA GH200 480GB", "bf16"),  # nor "H200" inside "GH200"
        ("Tesla T4", "bf16"),  # Turing has no bf16 tensor cores
        ("Some Future GPU", "fp16"),
    ],
)
def test_peak_unknown_is_none(name, dtype):
    assert peak_tflops(name, dtype) is None


def test_peak_rejects_unknown_dtype():
    with pytest.raises(BenchError, match="int8"):
        peak_tflops("NVIDIA H100 80GB HBM3", "int8")


def test_mfu():
    # half of the H100's 989.5 TFLOP/s for one second
    assert mfu(989.5e12 / 2, 1.0, "NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(0.5)
    assert mfu(1e12, 1.0, None, "fp32") is None  # CPU: never a guess
    assert mfu(1e12, 1.0, "Mystery GPU", "fp32") is None
    assert mfu(1e12, 0.0, "NVIDIA H100 80GB HBM3", "bf16") is None


def test_a_model_owns_its_flops_formula() -> None:
    """The default is the transformer formula on the model's shape; a model of another family
    overrides `train_flops_per_sample` and never has to fake transformer layers."""
    import dataclasses

    from torch import nn

    from bench.config import RunConfig
    from bench.modeling import MODELS, ModelSpec, Shape, load_models

    load_models()
    bert = MODELS.get("bert_bilstm")(RunConfig(model="bert_bilstm"))
    network = bert.paper_network()
    shape = bert.shape(network)
    expected = (
        transformer_train_flops_per_token(shape.n_dense_params, shape.n_layers, shape.d_model, 100)
        + lstm_train_flops_per_token(shape.lstm_input, shape.lstm_hidden)
    ) * 100
    assert bert.train_flops_per_sample(network, 100) == pytest.approx(expected)

    @dataclasses.dataclass(frozen=True)
    class ConvParams:
        kernel: int = 3

    class Conv(ModelSpec):  # a CNN: 2·k·c_in·c_out multiply-adds per position, times 3 to train
        Params = ConvParams

        def build_tokenizer(self, train_texts):  # type: ignore[no-untyped-def]
            raise AssertionError("not needed")

        def build_network(self, n_classes, tokenizer):  # type: ignore[no-untyped-def]
            return nn.Conv1d(16, 32, 3)

        def shape(self, network: nn.Module) -> Shape:
            raise AssertionError("a CNN has no transformer shape")

        def train_flops_per_sample(self, network: nn.Module, tokens: float) -> float:
            return 3 * 2 * 3 * 16 * 32 * tokens

    conv = Conv(RunConfig(model="encoder"))
    assert conv.train_flops_per_sample(nn.Conv1d(16, 32, 3), 10) == 3 * 2 * 3 * 16 * 32 * 10
