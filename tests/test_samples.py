"""The sample-grid callback: what it writes, where, and that it leaves the generator as it was."""

from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image

from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.latent import Latent
from gan_lightning.module import GAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from tests.helpers import RandomDataModule, quiet_trainer

SIDE = 4 * (16 + 2) + 2  # make_grid: 4 images of 16 px per row, 2 px padding around each


def small_gan(**kwargs) -> GAN:
    torch.manual_seed(0)
    return GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4), latent=Latent(num_fixed=16), **kwargs)


def fake_trainer(tmp_path, loggers=(), rank0: bool = True) -> SimpleNamespace:
    # 6 optimizer steps = batch index 3 (the 4th batch; one D and one G step each): loggers get the batch index.
    fit_loop = SimpleNamespace(total_batch_idx=3)
    return SimpleNamespace(
        global_step=6, fit_loop=fit_loop, is_global_zero=rank0, loggers=list(loggers), default_root_dir=str(tmp_path)
    )


def test_without_logger_writes_pngs_on_schedule_and_at_the_end(tmp_path):
    trainer = quiet_trainer(max_steps=5, default_root_dir=str(tmp_path), callbacks=[SampleGrid(every_n_batches=2, nrow=4)])
    trainer.fit(small_gan(), RandomDataModule(1, 16, batch_size=4))
    # 5 batches (indices 0-4) of one D and one G step each: every 2nd batch (1, 3) and the last (4).
    pngs = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert pngs == ["batch_0000001.png", "batch_0000003.png", "batch_0000004.png"]
    image = Image.open(tmp_path / "samples" / pngs[-1])
    assert image.size == (SIDE, SIDE) and image.mode == "RGB"


def test_two_draws_are_identical_and_restore_train_mode():
    model, callback = small_gan(), SampleGrid(nrow=4)
    model.train()
    torch.manual_seed(1)
    first = callback.draw(model)
    torch.manual_seed(2)  # the grid must come from the fixed noise, not the global RNG
    second = callback.draw(model)
    assert first.dtype == np.uint8 and first.shape == (SIDE, SIDE, 3)
    assert np.array_equal(first, second)
    assert model.netG.training, "G must be back in train mode"
    assert len(np.unique(first)) > 10, "a grid of samples, not a blank image"


def test_draws_from_the_ema_generator():
    model, callback = small_gan(ema_decay=0.9), SampleGrid(nrow=4)
    before = callback.draw(model)
    with torch.no_grad():
        for p in model.netG.parameters():
            p.add_(1.0)
    assert np.array_equal(before, callback.draw(model)), "the EMA copy, not netG, draws the grid"


def test_goes_to_wandb_as_uint8_and_writes_no_png(tmp_path):
    wandb = mock.Mock(spec=WandbLogger)
    assert SampleGrid(key="grid").log_grid(fake_trainer(tmp_path, [wandb]), small_gan()) is None
    (key, images), kwargs = wandb.log_image.call_args
    assert key == "grid" and kwargs == {"step": 3}  # the step the losses are logged at
    assert len(images) == 1 and images[0].dtype == np.uint8
    assert not (tmp_path / "samples").exists()


def test_goes_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(str(tmp_path), name="", version=0)
    SampleGrid(nrow=4).log_grid(fake_trainer(tmp_path, [logger]), small_gan())
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir).Reload()
    (image,) = events.Images("samples")
    assert (image.width, image.height, image.step) == (SIDE, SIDE, 3)
    assert not (tmp_path / "samples").exists()


def test_only_rank_zero_draws(tmp_path):
    assert SampleGrid().log_grid(fake_trainer(tmp_path, rank0=False), small_gan()) is None
    assert not (tmp_path / "samples").exists()
