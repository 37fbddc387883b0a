"""Every real-data config (MNIST, FashionMNIST, CIFAR-10, CelebA, image folder) trains for a few
batches through ``gan-lightning fit`` on files the test writes in the data set's own on-disk format
(tests/ondisk.py), with only the data's root, batch size and length overridden.

A config is picked up by its data class, so a new real-data config is tested without being listed
here. The run must have trained: the step count, both networks' parameters moved, the data read
from the files written (their count), and last.ckpt on disk.
"""

from pathlib import Path

import pytest
import torchvision.datasets.cifar
import yaml

from gan_lightning.cli import cli_main
from tests.ondisk import WeightsAtStart, changed, cifar_files_exist, write_celeba, write_cifar10, write_idx_mnist, write_images

CONFIG_DIR = Path(__file__).parents[1] / "configs"
BATCH = 4


def write_mnist(root: Path) -> int:
    write_idx_mnist(root / "MNIST" / "raw", n_train=10, n_test=6)
    return 10


def write_fashion_mnist(root: Path) -> int:
    write_idx_mnist(root / "FashionMNIST" / "raw", n_train=10, n_test=6)
    return 10


def write_cifar(root: Path) -> int:
    write_cifar10(root, per_batch=4, n_test=6)
    return 5 * 4


def write_faces(root: Path) -> int:
    write_celeba(root, n=8)
    return 8


def write_folder(root: Path) -> int:
    write_images(root / "any_class", 8, (40, 30))
    return 8


WRITERS = {  # data class -> writes the files under root, returns the number of training images
    "gan_lightning.data.MNISTDataModule": write_mnist,
    "gan_lightning.data.FashionMNISTDataModule": write_fashion_mnist,
    "gan_lightning.data.CIFAR10DataModule": write_cifar,
    "gan_lightning.data.CelebADataModule": write_faces,
    "gan_lightning.data.ImageFolderDataModule": write_folder,
}


def real_data_configs() -> list[Path]:
    configs = []
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text()) or {}
        if isinstance(cfg.get("data"), dict) and cfg["data"].get("class_path") in WRITERS:
            configs.append(path)
    return configs


def test_every_real_data_set_has_a_config():
    used = {yaml.safe_load(p.read_text())["data"]["class_path"] for p in real_data_configs()}
    assert used == set(WRITERS)


@pytest.mark.slow  # 3-20 s per config on 2 CPU cores (SNGAN's ResNets and the 64 px DCGANs are the slowest)
@pytest.mark.parametrize("config", real_data_configs(), ids=lambda p: p.stem)
def test_real_data_config_trains_on_files_in_the_data_sets_format(config: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/<config>/ lands here
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", cifar_files_exist)
    cfg = yaml.safe_load(config.read_text())
    root = tmp_path / "data"
    num_images = WRITERS[cfg["data"]["class_path"]](root)
    steps = max(2, cfg["model"].get("n_critic", 1))  # G steps every n_critic-th batch: let it take one
    cli = cli_main([
        "fit", "--config", str(config), "--data.init_args.root", str(root),
        "--data.init_args.batch_size", str(BATCH), "--data.init_args.num_workers", "0",
        "--trainer.max_steps", str(steps), "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks+=tests.ondisk.WeightsAtStart",
    ])  # fmt: skip
    assert cli.trainer.global_step == steps
    assert len(cli.datamodule.dataset) == num_images, "the training images are the files written"
    start = next(c for c in cli.trainer.callbacks if isinstance(c, WeightsAtStart))
    assert changed(start.netD, cli.model.netD), "D did not move"
    assert changed(start.netG, cli.model.netG), "G did not move"
    assert (tmp_path / "runs" / config.stem / "version_0" / "checkpoints" / "last.ckpt").is_file()
