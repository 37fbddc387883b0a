"""configs/callbacks/metrics.yaml: MetricsCallback every N batches and at the end, and
BestMetricCheckpoint keeping the generator with the lowest FID, under the name the data gives it."""

from pathlib import Path

import pytest
import torch
import yaml

from gan_lightning.callbacks.best_metric import BestMetricCheckpoint
from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.cli import cli_main
from gan_lightning.data import ShippedDigitsDataModule
from gan_lightning.metrics.evaluator import GANEvaluator
from gan_lightning.metrics.protocol import metric_name
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from tests.helpers import quiet_trainer

CONFIGS = Path(__file__).parents[1] / "configs"
FRAGMENT = CONFIGS / "callbacks" / "metrics.yaml"


def callback(cli, cls: type):
    (found,) = [c for c in cli.trainer.callbacks if isinstance(c, cls)]
    return found


@pytest.mark.slow  # ~20 s on 2 free CPU cores: 5 batches of the default experiment and 3 evaluations
def test_fragment_on_the_default_experiment_keeps_the_checkpoint_with_the_lowest_fid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = cli_main([
        "fit", "--config", str(CONFIGS / "digits_dcgan.yaml"), "--config", str(FRAGMENT),
        "--trainer.max_steps", "5", "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks.every_n_batches", "2", "--trainer.callbacks.num_samples", "300",
        "--trainer.callbacks.cache_dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    metrics, best = callback(cli, MetricsCallback), callback(cli, BestMetricCheckpoint)
    reference = cli.datamodule.reference_dataset()
    expected = metric_name("fid", "digits", cli.datamodule.reference_split(), min(300, len(reference)), 300)
    assert best.monitor == metrics.logged_name("fid") == expected
    assert [h["batch"] for h in metrics.history] == [2, 4, 5], "every 2 batches, then at fit's end"
    assert {"val/precision", "val/coverage"} <= {k.rsplit("_", 3)[0] for k in metrics.history[0]}, "PRDC too"
    fids = [h[expected] for h in metrics.history]
    assert best.best_model_score.item() == pytest.approx(min(fids))
    saved = torch.load(best.best_model_path, map_location="cpu", weights_only=False)
    assert saved["global_step"] == metrics.history[fids.index(min(fids))]["batch"], "saved at the scored batch"
    assert saved["callbacks"][best.state_key]["monitor"] == expected


class ScriptedEvaluator(GANEvaluator):
    """Returns the FIDs of ``SCRIPT`` in turn (under the real name) instead of computing them."""

    SCRIPT: list[float] = []

    def evaluate(self, gan, data, rank: int = 0, world_size: int = 1) -> dict[str, float]:
        return {self.metric_names(data)["fid"]: self.SCRIPT.pop(0)}


def tiny_gan() -> GAN:
    torch.manual_seed(0)
    return GAN(MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh"),
               MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8]))  # fmt: skip


def test_the_best_is_kept_when_it_is_not_the_last(tmp_path, monkeypatch):
    monkeypatch.setattr("gan_lightning.callbacks.metrics.GANEvaluator", ScriptedEvaluator)
    ScriptedEvaluator.SCRIPT = [5.0, 3.0, 4.0]  # evaluations at batches 2 and 4 (mid-epoch), then fit's end (5)
    metrics = MetricsCallback(extractor="auto", num_samples=100, metrics=["fid"], every_n_epochs=None,
                              every_n_batches=2, cache_dir=None)  # fmt: skip
    best = BestMetricCheckpoint(dirpath=str(tmp_path))
    trainer = quiet_trainer(max_steps=5, callbacks=[best, metrics], enable_checkpointing=True)
    trainer.fit(tiny_gan(), ShippedDigitsDataModule(image_size=32, batch_size=16))
    assert [p.name for p in tmp_path.iterdir()] == ["best_fid-step=4.ckpt"]
    assert best.best_model_score.item() == 3.0


def test_best_checkpoint_without_a_metrics_callback_names_the_fix():
    trainer = quiet_trainer(max_steps=1, callbacks=[BestMetricCheckpoint()], enable_checkpointing=True)
    with pytest.raises(ValueError, match="has 0 MetricsCallbacks: add exactly one"):
        trainer.fit(tiny_gan(), ShippedDigitsDataModule(image_size=32, batch_size=16))


def test_best_checkpoint_on_a_metric_that_is_not_computed_names_the_fix():
    metrics = MetricsCallback(num_samples=100, metrics=["fid"], cache_dir=None)
    trainer = quiet_trainer(max_steps=1, callbacks=[BestMetricCheckpoint("coverage"), metrics], enable_checkpointing=True)
    with pytest.raises(ValueError, match=r"not 'coverage': add it to the callback's metrics \(.*prdc"):
        trainer.fit(tiny_gan(), ShippedDigitsDataModule(image_size=32, batch_size=16))


def test_the_fragment_evaluates_the_default_experiments_last_batch():
    """No extra evaluation at fit's end: the schedule whose cost the fragment's header states."""
    (best, metrics) = yaml.safe_load(FRAGMENT.read_text())["trainer"]["callbacks+"]
    default = yaml.safe_load((CONFIGS / "digits_dcgan.yaml").read_text())
    assert best["class_path"].endswith("BestMetricCheckpoint") and metrics["class_path"].endswith("MetricsCallback")
    assert default["trainer"]["max_steps"] % metrics["init_args"]["every_n_batches"] == 0
