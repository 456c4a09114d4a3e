"""`sr-native bench --compare` and sr_native.benchmarks: EDSR-baseline beside
PyTorch, onnxruntime and OpenVINO on the same weights. The peers are optional:
each peer's test skips with the reason when it is absent, and without PyTorch
the command says which peers it found and that PyTorch builds their networks."""

import sys

import pytest

from sr_native import benchmarks
from sr_native.cli import main

SIZE = (40, 24)  # width, height: small, so a whole comparison takes seconds


@pytest.fixture(scope="module")
def comparison():
    """One EDSR-baseline x2 comparison on a small input, shared by the peer tests."""
    if benchmarks.optional("torch") is None:
        pytest.skip("PyTorch is not installed; it builds the peers' networks")
    lines = []
    result = benchmarks.compare_networks(["edsr-baseline-x2"], width=SIZE[0], height=SIZE[1], threads=2,
                                         repeat=1, out=lines.append)
    return result[0], "\n".join(lines)


@pytest.mark.parametrize("peer", ["PyTorch", "onnxruntime", "OpenVINO"])
def test_each_installed_peer_agrees_with_pytorch_and_is_timed(comparison, peer):
    if benchmarks.optional(benchmarks.PEERS[peer]) is None:
        pytest.skip(f"{peer} is not installed (pip install {benchmarks.PEERS[peer]})")
    result, text = comparison
    ratio = result.ratio(peer)
    assert ratio is not None and ratio > 0, text
    if peer != "PyTorch":  # PyTorch is the reference the others are checked against
        assert result.max_rel_diff[peer] < benchmarks.MAX_REL_DIFF, text
    assert result.max_rel_diff["sr_native"] < benchmarks.MAX_REL_DIFF
    # The table row: name, median, min, GFLOP/s, % of the measured peak, ratio.
    row = next(line for line in text.splitlines() if line.strip().startswith(peer + " "))
    assert row.rstrip().endswith(f"{ratio:.2f}x") and "%" in row, row
    assert result.gflop > 0 and "measured fp32 FMA peak" in text


def test_an_absent_peer_is_a_line_that_says_why(monkeypatch):
    if benchmarks.optional("torch") is None:
        pytest.skip("PyTorch is not installed; it builds the peers' networks")
    # None in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    lines = []
    (result,) = benchmarks.compare_networks(width=16, height=12, threads=1, repeat=1, out=lines.append)
    assert [r.name for r in result.rows] == ["sr_native", "PyTorch"]
    assert set(result.missing) == {"onnxruntime", "OpenVINO"}
    text = "\n".join(lines)
    assert "OpenVINO                    not installed (pip install openvino)" in text
    assert "onnxruntime                 not installed (pip install onnxruntime)" in text


def test_compare_command_prints_the_table(capsys):
    if benchmarks.optional("torch") is None:
        pytest.skip("PyTorch is not installed; it builds the peers' networks")
    assert main(["bench", "--compare", "--size", "24x16", "--repeat", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "edsr-baseline-x2 on 1x3x16x24" in out and "ours faster by" in out
    for peer, module in benchmarks.PEERS.items():
        installed = benchmarks.optional(module) is not None
        assert (f"{peer} not installed" in out) != installed, (peer, out)


def test_compare_without_pytorch_names_the_missing_peers(monkeypatch, capsys):
    for module in benchmarks.PEERS.values():
        monkeypatch.setitem(sys.modules, module, None)
    assert main(["bench", "--compare", "--size", "24x16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sr-native bench: --compare needs PyTorch"), err
    assert "PyTorch not installed, onnxruntime not installed, OpenVINO not installed" in err
    with pytest.raises(ModuleNotFoundError, match="compare_networks: PyTorch is not installed"):
        benchmarks.compare_networks(width=8, height=8)


def test_compare_rejects_other_models_and_scales(capsys):
    assert main(["bench", "--compare", "--model", "some.safetensors"]) == 2
    assert "leave out --model" in capsys.readouterr().err
    assert main(["bench", "--compare", "--scale", "3"]) == 2
    assert "got --scale 3" in capsys.readouterr().err


def test_compare_networks_checks_its_arguments():
    with pytest.raises(ValueError, match="compare_networks: names has 'edsr-x3'"):
        benchmarks.compare_networks(["edsr-x3"])
    with pytest.raises(TypeError, match="compare_networks: width must be an int, got float"):
        benchmarks.compare_networks(width=10.5)
    with pytest.raises(ValueError, match="compare_networks: repeat must be >= 1, got 0"):
        benchmarks.compare_networks(repeat=0)
