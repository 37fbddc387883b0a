"""Stacked MNIST: the datamodule (independent channels, on-the-fly draws, exact resume), the
Unrolled-GAN networks, the modes/KL metric and where it is reported (callback, evaluate, seeds.py)."""

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_lightning.callbacks.stacked import StackedMNISTCoverage
from gan_lightning.cli import cli_main
from gan_lightning.data.digits import load_digits_split
from gan_lightning.data.stacked import StackedDigits, StackedDigitsDataModule, draw_indices
from gan_lightning.metrics.classifier import load_digit_classifier
from gan_lightning.metrics.stacked import (
    NUM_SAMPLES,
    SINGLE_TRIPLET_KL,
    generated_counts,
    histogram_image,
    stacked_stats,
)
from gan_lightning.module import GAN
from gan_lightning.networks import UnrolledMNISTDiscriminator, UnrolledMNISTGenerator

CONFIGS = Path(__file__).parents[1] / "configs"
QUARTER = str(CONFIGS / "stacked_dcgan_quarter_d.yaml")


@pytest.fixture(scope="module")
def classifier() -> nn.Module:
    return load_digit_classifier()


# --- the data -------------------------------------------------------------------------------


def test_the_three_channels_are_independent_uniform_draws():
    """Pearson's chi-square on every pair of channels' digits (10 x 10 table, 81 degrees of freedom)
    and on each channel's digit marginal (9), from 30,000 items; the critical values are p = 0.001."""
    dm = StackedDigitsDataModule(epoch_length=30_000)
    dm.setup("fit")
    _, triplets = dm.dataset.draw(range(30_000))
    digits = torch.stack([triplets // 100, triplets // 10 % 10, triplets % 10], dim=1)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        table = torch.zeros(10, 10).index_put_((digits[:, a], digits[:, b]), torch.ones(30_000), accumulate=True)
        expected = table.sum(1, keepdim=True) * table.sum(0, keepdim=True) / table.sum()
        assert ((table - expected) ** 2 / expected).sum() < 124.8, f"channels {a} and {b} are not independent"
    for c in range(3):  # each digit class is 10% of the train split, so of each channel
        observed = torch.bincount(digits[:, c], minlength=10).double()
        assert ((observed - 3000) ** 2 / 3000).sum() < 27.9
    positions = draw_indices(range(30_000), 3500, seed=0)
    assert (positions[:, 0] == positions[:, 1]).float().mean() < 0.002  # not one digit copied to three channels


def test_an_item_is_three_split_digits_with_their_triplet_label():
    digits, labels = load_digits_split("train")
    dataset = StackedDigits(digits, labels, length=100, seed=3)
    image, label = dataset[7]
    positions = draw_indices([7], len(digits), seed=3)[0]
    assert image.shape == (3, 28, 28)
    assert torch.equal(image, digits[positions, 0])
    assert int(label) == 100 * int(labels[positions[0]]) + 10 * int(labels[positions[1]]) + int(labels[positions[2]])
    assert torch.equal(torch.stack([dataset[i][0] for i in (3, 9)]), dataset.draw([3, 9])[0])  # batched == one by one


def test_redraw_serves_new_images_each_epoch_and_a_fixed_set_without_it():
    def epoch_images(redraw: bool, epoch: int) -> set[int]:
        dm = StackedDigitsDataModule(epoch_length=256, batch_size=128, redraw=redraw)
        dm.setup("fit")
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return {int(x.sum() * 1000) ^ int(y) for images, labels in loader for x, y in zip(images, labels)}

    assert epoch_images(True, 0) != epoch_images(True, 1)
    assert epoch_images(False, 0) == epoch_images(False, 1)


def test_the_loader_resumes_mid_epoch_with_the_same_batches():
    dm = StackedDigitsDataModule(epoch_length=1280, batch_size=128)
    dm.setup("fit")
    loader = dm.train_dataloader()
    it = iter(loader)
    for _ in range(3):
        next(it)
    state = loader.state_dict()
    expected = [next(it) for _ in range(2)]
    resumed = dm.train_dataloader()
    resumed.load_state_dict(state)
    it = iter(resumed)
    for want in expected:
        got = next(it)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_the_epoch_length_is_a_setting_and_a_batch_is_images_with_triplet_labels():
    dm = StackedDigitsDataModule(epoch_length=640, batch_size=128)
    dm.setup("fit")
    assert len(dm.dataset) == 640
    batches = list(dm.train_dataloader())
    assert len(batches) == 5  # epoch_length / batch_size
    images, labels = batches[0]
    assert images.shape == (128, 3, 28, 28) and images.dtype == torch.float32
    assert -1 <= images.min() and images.max() <= 1
    assert labels.shape == (128,) and labels.dtype == torch.int64 and 0 <= labels.min() and labels.max() <= 999
    assert dm.sample_shape == (3, 28, 28) and dm.num_triplets == 1000
    with pytest.raises(ValueError, match="at least one batch"):
        StackedDigitsDataModule(epoch_length=100, batch_size=128)


def test_the_draws_are_a_function_of_the_seed():
    digits, labels = load_digits_split("train")
    a, b, c = (StackedDigits(digits, labels, length=64, seed=s).all() for s in (5, 5, 6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


# --- the networks ---------------------------------------------------------------------------

# Parameters (weights, biases, BatchNorm scale and shift) of the Table 3 networks, counted by hand:
# G: linear 256*1024+1024, BN 2*64, transposed convs 9*64*32+32, 9*32*16+16, 9*16*8+8 with BN
# 2*(32+16+8), conv 9*8*3+3. D = 1/4 G: convs 9*3*2+2, 9*2*4+4, 9*4*8+8, BN 2*(2+4+8), linear
# 8*4*4+1; D = 1/2 G: 9*3*4+4, 9*4*8+8, 9*8*16+16, BN 2*(4+8+16), linear 16*4*4+1.
G_PARAMS, QUARTER_D_PARAMS, HALF_D_PARAMS = 287_875, 585, 1_889


def num_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_the_table3_networks_have_the_papers_parameter_counts():
    assert num_params(UnrolledMNISTGenerator()) == G_PARAMS
    assert num_params(UnrolledMNISTDiscriminator(widths=(2, 4, 8))) == QUARTER_D_PARAMS
    assert num_params(UnrolledMNISTDiscriminator(widths=(4, 8, 16))) == HALF_D_PARAMS
    assert num_params(UnrolledMNISTDiscriminator(pack=4)) == QUARTER_D_PARAMS + 9 * 2 * 3 * 3  # 9 more input channels
    g = UnrolledMNISTGenerator()
    shapes = []
    x = g.project(torch.randn(2, 256))
    for layer in g.main:
        x = layer(x)
        if isinstance(layer, (nn.ConvTranspose2d, nn.Conv2d)):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(32, 7, 7), (16, 14, 14), (8, 28, 28), (3, 28, 28)]
    assert isinstance(g.main[-1], nn.Tanh)
    d = UnrolledMNISTDiscriminator(widths=(4, 8, 16))
    assert [m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)] == [0.3] * 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3


@pytest.mark.parametrize(
    "config, fragment, widths, pack, batch",
    [
        ("stacked_dcgan_quarter_d.yaml", None, [2, 4, 8], 1, 128),
        ("stacked_dcgan_quarter_d.yaml", "stacked/pack2.yaml", [2, 4, 8], 2, 256),
        ("stacked_dcgan_quarter_d.yaml", "stacked/pack3.yaml", [2, 4, 8], 3, 384),
        ("stacked_dcgan_quarter_d.yaml", "stacked/pack4.yaml", [2, 4, 8], 4, 512),
        ("stacked_dcgan_half_d.yaml", "stacked/pack3.yaml", [4, 8, 16], 3, 384),
    ],
)
def test_the_configs_parse_to_the_papers_table3_settings(config, fragment, widths, pack, batch):
    args = ["--config", str(CONFIGS / config)] + (["--config", str(CONFIGS / fragment)] if fragment else [])
    cli = cli_main([*args, "--trainer.logger", "false"], run=False)
    gan, dm = cli.model, cli.datamodule
    assert [m.out_channels for m in gan.netD.modules() if isinstance(m, nn.Conv2d)] == widths
    assert gan.pack == pack and dm.batch_size == batch  # 128 packs of `pack` images, as PacGAN's code
    assert gan.netG.latent_dim == 256 and num_params(gan.netG) == G_PARAMS
    opt_g = gan.optimizer_G(gan.netG.parameters()).defaults
    opt_d = gan.optimizer_D(gan.netD.parameters()).defaults
    assert (opt_g["lr"], opt_d["lr"]) == (1e-4, 2e-4)
    assert tuple(opt_g["betas"]) == tuple(opt_d["betas"]) == (0.5, 0.99)
    assert isinstance(dm, StackedDigitsDataModule) and dm.redraw and dm.num_reference == NUM_SAMPLES


def test_the_table2_config_parses_to_veegans_setting():
    cli = cli_main(["--config", str(CONFIGS / "stacked_dcgan_table2.yaml"), "--trainer.logger", "false"], run=False)
    dm = cli.datamodule
    assert (dm.batch_size, dm.epoch_length, dm.redraw, dm.num_reference) == (64, 128_000, False, 26_000)
    assert cli.trainer.max_steps == 50 * 128_000 // 64


def test_the_unrolled_networks_have_the_papers_shapes():
    g = UnrolledMNISTGenerator()
    assert g(torch.randn(4, 256)).shape == (4, 3, 28, 28)
    d = UnrolledMNISTDiscriminator(pack=2)
    assert d(torch.randn(4, 6, 28, 28)).shape == (4,)
    widths = [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [2, 4, 8]  # "D is 1/4 the size of G"
    with pytest.raises(ValueError, match="image_size: 28"):
        UnrolledMNISTGenerator(image_size=32)


@pytest.mark.parametrize("widths", [(2, 4, 8), (4, 8, 16)])
def test_the_table3_d_barely_sees_a_brightness_and_contrast_change_shared_by_its_batch(widths):
    """BatchNorm right after D's first conv, on a real and a fake batch apart (the GAN step, and
    PacGAN's code), takes out a brightness/contrast change that the whole batch shares: conv(a x + b)
    is a conv(x) plus a constant away from the zero-padded border, whatever the weights. So D(x) and
    D(0.2 x - 0.1) nearly agree, and nothing pushes a G that paints faint strokes on grey towards
    black backgrounds (docs/stacked_digits.md). Measured over init seeds 0-2: the outputs differ by
    3-11% of D's spread over the batch, correlation >= 0.992."""
    torch.manual_seed(0)
    real, _ = StackedDigitsDataModule(reference="test", num_reference=128).reference_dataset().all()
    d = UnrolledMNISTDiscriminator(widths=widths).train()
    with torch.no_grad():
        d_real, d_grey = d(real), d(0.2 * real - 0.1)
    assert (d_real - d_grey).abs().mean() < 0.15 * d_real.std(), ((d_real - d_grey).abs().mean(), d_real.std())
    assert torch.corrcoef(torch.stack([d_real, d_grey]))[0, 1] > 0.98


def test_first_norm_false_drops_only_the_batchnorm_after_the_first_conv():
    with_norm, without = UnrolledMNISTDiscriminator(), UnrolledMNISTDiscriminator(first_norm=False)
    kinds = lambda d: [type(m).__name__ for m in d.main]  # noqa: E731
    assert kinds(without) == ["Conv2d", "Identity", *kinds(with_norm)[2:]] and kinds(with_norm)[1] == "BatchNorm2d"
    assert sum(p.numel() for p in with_norm.parameters()) - sum(p.numel() for p in without.parameters()) == 2 * 2


# --- the metric -----------------------------------------------------------------------------


def test_real_stacked_digits_cover_all_modes_with_a_kl_near_zero(classifier):
    """At PacGAN's sample counts (25,600 for Table 3, 26,000 for Table 2), real stacked test digits
    (what a perfect G makes) cover all 1,000 triplets (each is expected ~26 times) with a KL near
    its sampling floor, ~0.02: benchmarks/stacked_floor.py, the docs' floor table."""
    from benchmarks.stacked_floor import floor

    rows = floor("test", (NUM_SAMPLES, 26_000), classifier)
    assert [r["num_samples"] for r in rows] == [NUM_SAMPLES, 26_000]
    for r in rows:
        assert r["modes"] >= 990 and r["kl"] < 0.05, r
        assert r["true_modes"] == 1000 and r["true_kl"] < 0.03, r  # the draws alone: ~999 / (2 n)
        assert r["triplet_accuracy"] > 0.85, r  # ~0.97^3 when the classifier reads each digit


def test_the_table_prints_our_rows_beside_the_papers(tmp_path, capsys):
    from benchmarks.stacked_table import main

    runs = [{"seed": s, "stacked_modes": m, "stacked_kl": k, "cpu_s": 100.0} for s, m, k in ((0, 70, 5.0), (1, 90, 5.4))]
    path = tmp_path / "dcgan.json"
    path.write_text(json.dumps({"overrides": ["--trainer.max_steps", "5000"], "runs": runs}))
    (line,) = main([f"quarter:DCGAN={path}"])[2:]
    assert "| quarter | DCGAN | 5,000 (1%) | 2 | 80.0 ± 10.0 | 5.20 ± 0.20 | 70 / 5.00, 90 / 5.40 |" in line
    assert line.endswith("| 78.5 ± 17.6 | 5.21 ± 0.19 |")
    with pytest.raises(SystemExit, match="unknown row"):
        main([f"quarter:GAN={path}"])
    seed2 = tmp_path / "recipe_s2.json"  # one file per seed, read as one row; the recipe has no paper row
    seed2.write_text(json.dumps({"overrides": ["--trainer.max_steps", "5000"], "runs": [{**runs[0], "seed": 2, "stacked_modes": 110}]}))
    (line,) = main([f"quarter:recipe={path},{seed2}"])[2:]
    assert "| quarter | recipe | 5,000 (1%) | 3 | 90.0 ± 11.5 |" in line and line.endswith("| not in the paper | not in the paper |")
    seed2.write_text(json.dumps({"overrides": ["--trainer.max_steps", "6000"], "runs": runs}))
    with pytest.raises(SystemExit, match="different lengths"):
        main([f"quarter:DCGAN={path},{seed2}"])


class OneTripletGenerator(nn.Module):
    """Makes the same stacked image for every z: a G collapsed onto one of the 1,000 triplets."""

    latent_dim = 8

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("image", image)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.image * self.scale).expand(z.shape[0], -1, -1, -1)


def test_a_generator_of_one_triplet_covers_one_mode_with_kl_ln_1000(classifier):
    images, _ = StackedDigitsDataModule(reference="test", num_reference=20).reference_dataset().all()
    gan = GAN(OneTripletGenerator(images[0]), UnrolledMNISTDiscriminator())
    counts = generated_counts(gan, classifier, num_samples=3000)
    stats = stacked_stats(counts)
    assert stats.modes == 1
    assert stats.kl == pytest.approx(SINGLE_TRIPLET_KL, abs=1e-9)
    assert SINGLE_TRIPLET_KL == pytest.approx(math.log(1000))
    picture = histogram_image(counts, cell=2)
    assert picture.shape == (20, 200, 3)
    corners = picture[::2, ::2]  # each cell's top-left pixel (the block lines are on odd columns)
    red = (corners[..., 0] == 220) & (corners[..., 1] == 30) & (corners[..., 2] == 30)
    assert red.sum() == 999  # every missing triplet's cell is red...
    made = int(counts.argmax())
    assert not red[made // 100, made % 100]  # ...and the one made is not


# --- where it is reported -------------------------------------------------------------------


@pytest.fixture(scope="module")
def stacked_ckpt(tmp_path_factory) -> Path:
    """The D = 1/4 G config for 4 batches, the callback evaluating every 2 on 300 samples."""
    tmp = tmp_path_factory.mktemp("stacked")
    cli = cli_main([
        "fit", "--config", QUARTER, "--trainer.default_root_dir", str(tmp), "--trainer.logger.init_args.save_dir",
        str(tmp), "--trainer.enable_progress_bar", "false", "--trainer.max_steps", "4",
        "--trainer.callbacks.every_n_batches", "2", "--trainer.callbacks.num_samples", "300",
        "--data.init_args.epoch_length", "1280",
    ])  # fmt: skip
    (callback,) = [c for c in cli.trainer.callbacks if isinstance(c, StackedMNISTCoverage)]
    assert [h["batch"] for h in callback.history] == [2, 4]
    assert "mode collapse" in callback.fired  # an untrained G makes few of the triplets
    metrics = (tmp / "version_0" / "metrics.csv").read_text()
    assert "stacked_modes" in metrics and "stacked_kl" in metrics
    assert (tmp / "version_0" / "stacked_histogram" / "batch_0000003.png").is_file()
    return tmp / "version_0" / "checkpoints" / "last.ckpt"


def test_evaluate_prints_modes_and_kl_and_writes_the_histogram(stacked_ckpt, capsys):
    from gan_lightning.cli import main

    main(["evaluate", "--ckpt_path", str(stacked_ckpt), "--num_samples", "500"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 1 <= result["stacked_modes"] <= 500
    assert 0 <= result["stacked_kl"] <= SINGLE_TRIPLET_KL
    assert result["stacked_num_samples"] == 500
    assert Path(result["stacked_histogram_png"]).is_file()
    assert "protocol" not in result  # FID/KID/PRDC only with --extractor inception


def test_seeds_reports_modes_kl_and_the_real_floor(tmp_path, monkeypatch):
    from benchmarks.seeds import main

    monkeypatch.chdir(tmp_path)
    rows = main([QUARTER, "--seeds", "1", "--num_samples", "400", "--trainer.max_steps", "2", "--threads", "1",
                 "--data.init_args.epoch_length", "1280", "--grids", str(tmp_path / "grids"), "--out", "out.json",
                 "--cache_dir", str(tmp_path / "cache")])  # fmt: skip
    assert {"stacked_modes", "stacked_kl", "cpu_s"} <= set(rows[0])
    real = json.loads((tmp_path / "out.json").read_text())["real"]
    assert real["split"] == "val" and real["num_samples"] == 400
    assert real["stacked_modes"] > 290  # 400 real images: 1000 (1 - 0.999^400) = 330 distinct triplets expected
    assert (tmp_path / "grids" / "seed0_histogram.png").is_file()
