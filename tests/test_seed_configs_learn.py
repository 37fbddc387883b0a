"""A seed system's config learns on the shipped digits, offline: a short seeded run of the
config as a user launches it (its networks, loss, optimizers and remedies, stacked with a
configs/data fragment, only shortened; the 64 px DCGAN also at a smaller batch) brings the
held-out FID far below its untrained generator's and makes more of the ten digits. The
full-length numbers come from benchmarks/seeds.py (README, "Results"); these runs take one to
three CPU minutes each.

Measured for these lengths (seed 0, FID of 1k samples, classes seen in >= 1%): the MLP GAN and
LSGAN after 3,000 batches, LSGAN 1125 -> 17.8 with 1 -> 8 classes; the 28 px DCGAN's FID (with
its R1) first rises (774 -> 1470 at 200 batches) and falls after (93 at 600, 44 with 4 classes
at 800).
EBGAN (with its pulling-away term) after 600 batches at a constant rate, 1001 -> 48.7 with 1 -> 4
classes (with the config's decay over the run's second half: 115, still 1 class).
The 64 px DCGAN (digits64_dcgan.yaml) at batch 16 and a constant rate: its FID per batch follows
the course it takes at batch 64 (seed 0, every 100 batches: 583 untrained, up to 1,110 at 200,
78 at 600, 26 at 800, 7.7 with 8 classes at 1,000) for 0.14 CPU s a batch instead of 0.5.
After 800 batches, seeds 0-2 on the native (1 thread) and AVX2 paths and seed 0 on 2 threads:
FID 583-640 -> 10.1-32.3, 1 -> 4-7 classes.
Not here: the tutorial's own 64 px recipe (dcgan_celeba.yaml, 2.3 CPU s a batch of 128; at
batch 32 its FID was still above the untrained G's after 250 batches) keeps its fast_dev_run
check in test_configs.
"""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from gan_lightning.cli import cli_main
from gan_lightning.metrics.classifier import class_histogram, load_digit_classifier
from gan_lightning.metrics.evaluator import GANEvaluator, eval_data
from gan_lightning.metrics.protocol import EvalProtocol
from gan_lightning.module import GAN
from tests.conftest import learning_seed

CONFIGS = Path(__file__).parents[1] / "configs"
NUM_SAMPLES = 1000


def fid_and_classes(model: GAN, datamodule: object) -> tuple[float, int]:
    """Held-out FID (digit features, 1k against the 1k test digits) and how many of the ten
    classes the shipped classifier finds in at least 1% of 1,000 samples (a short run covers
    more classes long before it balances them)."""
    evaluator = GANEvaluator(EvalProtocol("digits", NUM_SAMPLES, metrics=("fid",)), cache_dir=None)
    (fid,) = evaluator.evaluate(model, eval_data(datamodule)).values()
    shares = class_histogram(load_digit_classifier().predict_proba(model.sample(NUM_SAMPLES, torch.Generator().manual_seed(0))))
    return fid, int((shares >= 0.01).sum())


class ScoreBeforeTraining(Callback):
    """Scores the untrained generator of the very run the test then trains."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.before = fid_and_classes(pl_module, trainer.datamodule)


# config files, the batches to train, and overrides that only shorten the run: an EMA of G with the
# configs' decay 0.999 would still be half the untrained G after 600 steps, so the window shrinks too
SHORT_EMA = ["--model.ema_decay", "0.9"]
CASES = {
    "mnist_mlp": (["mnist_mlp.yaml", "data/digits28.yaml"], 3000, SHORT_EMA),
    "mnist_lsgan": (["mnist_lsgan.yaml", "data/digits28.yaml"], 3000, SHORT_EMA),
    "mnist_dcgan": (["mnist_dcgan.yaml", "data/digits28.yaml"], 800, SHORT_EMA),
    # EBGAN's decay would start at batch 300 of 600 and stall it (docstring): a constant rate here
    "ebgan_mnist": (["ebgan_mnist.yaml", "data/digits28.yaml"], 600, [*SHORT_EMA, "--model.lr_decay_start", "1.0"]),
    # the 64 px DCGAN at batch 16: its FID follows the same course per batch as at its batch 64
    # (docstring) at a quarter of the cost; a constant rate, as for EBGAN
    "digits64_dcgan": (["digits64_dcgan.yaml"], 800, [*SHORT_EMA, "--model.lr_decay_start", "1.0", "--data.init_args.batch_size", "16"]),
}


@pytest.mark.slow  # a real training run per config
@pytest.mark.learning
@pytest.mark.parametrize("case", CASES)
def test_seed_config_learns_on_the_shipped_digits(case: str, tmp_path, monkeypatch, record_learning):
    monkeypatch.chdir(tmp_path)
    files, batches, overrides = CASES[case]
    seed = learning_seed(0)
    args = ["fit", *[a for f in files for a in ("--config", str(CONFIGS / f))], *overrides, "--seed_everything", str(seed), "--data.init_args.reference", "test",
            "--trainer.max_steps", str(batches), "--trainer.max_epochs", "-1", "--trainer.logger", "false",
            "--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.callbacks", '[{"class_path": "tests.test_seed_configs_learn.ScoreBeforeTraining"}]']  # fmt: skip
    cli = cli_main(args)
    assert cli.trainer.fit_loop.total_batch_idx + 1 == batches  # trained the batches asked for, on the digits
    (fid_before, classes_before), = [c.before for c in cli.trainer.callbacks if isinstance(c, ScoreBeforeTraining)]
    fid_after, classes_after = fid_and_classes(cli.model, cli.datamodule)
    record_learning(seed=seed, fid_before=fid_before, fid_after=fid_after, classes_before=classes_before, classes_after=classes_after)
    assert fid_after < fid_before / 4, f"{case}: FID {fid_before:.1f} -> {fid_after:.1f}"
    assert classes_after > classes_before, f"{case}: classes made {classes_before} -> {classes_after}"
