"""Inception FID on a machine without network: from a weights file given by path (the
MetricsCallback during fit, ``gan-lightning evaluate --inception_weights_path``) or pre-fetched
into torch's hub cache. Any download attempt fails the test.

The weights are torch-fidelity's Inception-v3 with random weights (tests/helpers.py): the same
file format as the real weights-inception-2015-12-05-6726825d.pth, which cannot be downloaded here.
"""

import json
import math
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest
import torch
import torchvision.datasets.cifar

from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.cli import cli_main, main
from gan_lightning.metrics.fid import InceptionExtractor, inception_cache_path
from tests.helpers import write_random_inception_weights
from tests.ondisk import cifar_files_exist, write_cifar10

CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Every way torch, torch-fidelity or torchmetrics could download raises, and torch's hub cache
    is an empty folder (so a real copy of the weights on this machine cannot hide a download)."""

    def download_attempted(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args[:1]}")

    # torch-fidelity calls torch.hub.load_state_dict_from_url, which reads the cache and calls these
    monkeypatch.setattr(torch.hub, "download_url_to_file", download_attempted)
    monkeypatch.setattr(torch.hub, "urlopen", download_attempted)
    monkeypatch.setattr(urllib.request, "urlopen", download_attempted)
    monkeypatch.setattr(socket.socket, "connect", download_attempted)
    monkeypatch.setattr(socket, "create_connection", download_attempted)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def test_weights_prefetched_into_the_hub_cache_are_read_without_network(no_network, tmp_path):
    assert inception_cache_path().is_relative_to(tmp_path / "torch_home"), "TORCH_HOME moves the cache"
    with pytest.raises(AssertionError, match="a download was attempted"):
        InceptionExtractor()  # nothing in the cache yet: torch-fidelity would download
    weights = write_random_inception_weights(inception_cache_path())
    extractor = InceptionExtractor()
    saved = torch.load(weights, weights_only=True)
    assert torch.equal(extractor.inception.Conv2d_1a_3x3.conv.weight, saved["Conv2d_1a_3x3.conv.weight"])


@pytest.mark.slow  # ~30 s on 2 CPU cores: 28 Inception passes at 299 px
@pytest.mark.filterwarnings("ignore:FID from")  # 6 real vs 8 fake 2048-d features: rank-deficient on purpose
def test_fit_and_evaluate_score_cifar_with_a_local_weights_file_offline(no_network, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", cifar_files_exist)  # MD5s of the real files
    write_cifar10(tmp_path / "data", per_batch=4, n_test=6)
    weights = write_random_inception_weights(tmp_path / "fit_machine" / "inception.pth")
    cli = cli_main([
        "fit", "--config", str(CONFIGS / "dcgan_cifar10.yaml"), "--config", str(CONFIGS / "callbacks" / "metrics.yaml"),
        "--data.init_args.root", str(tmp_path / "data"), "--data.init_args.batch_size", "4",
        "--trainer.max_steps", "2", "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks.num_samples", "8", "--trainer.callbacks.metrics", "[fid]",
        "--trainer.callbacks.inception_weights_path", str(weights), "--trainer.callbacks.cache_dir", str(tmp_path / "c1"),
    ])  # fmt: skip
    (metrics,) = [c for c in cli.trainer.callbacks if isinstance(c, MetricsCallback)]
    name = "val/fid_inception_test6_gen8"  # the extractor chosen for colour data; CIFAR's test batch is the reference
    assert metrics.evaluator.protocol.extractor == "inception" and metrics.logged_name("fid") == name
    assert [h["batch"] for h in metrics.history] == [2] and math.isfinite(metrics.history[0][name])

    # another machine: the file elsewhere, the path stored in the checkpoint gone
    moved = shutil.copy(weights, tmp_path / "eval_machine.pth")
    shutil.rmtree(weights.parent)
    ckpt = tmp_path / "runs" / "dcgan_cifar10" / "version_0" / "checkpoints" / "last.ckpt"
    main(["evaluate", "--ckpt_path", str(ckpt), "--inception_weights_path", str(moved), "--cache_dir", str(tmp_path / "c2")])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["protocol"]["extractor"] == "inception" and result["protocol"]["inception_weights_path"] == str(moved)
    assert result[name] == pytest.approx(metrics.history[0][name], rel=1e-4), "the same G, latents and real images"
