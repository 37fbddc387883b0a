"""benchmarks/examples_dcgan.py with a stand-in for pytorch/examples' dcgan/main.py (same command
line, same file names): the digits it writes are the shipped train split as torchvision's MNIST
reads them, and the generator it scores is the one main.py saved."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import examples_dcgan  # noqa: E402

from gan_lightning.data.digits import load_digits_split  # noqa: E402
from gan_lightning.networks import DCGANGenerator  # noqa: E402

STAND_IN = '''
import argparse, json, torch, torchvision.datasets as dset
from gan_lightning.networks import DCGANGenerator
p = argparse.ArgumentParser()
for name in ("--dataset", "--dataroot", "--outf"):
    p.add_argument(name)
for name in ("--imageSize", "--batchSize", "--niter", "--manualSeed", "--workers"):
    p.add_argument(name, type=int)
o = p.parse_args()
data = dset.MNIST(root=o.dataroot, download=True)  # main.py's --dataset mnist branch, offline
json.dump({"args": vars(o), "n": len(data), "per_class": data.targets.bincount().tolist(),
           "pixels": data.data.float().mean().item()}, open(o.outf + "/seen.json", "w"))
torch.manual_seed(o.manualSeed)
torch.save(DCGANGenerator(100, 1, 64, 64).state_dict(), f"{o.outf}/netG_epoch_{o.niter - 1}.pth")
for epoch in range(o.niter):  # main.py's progress line, one per batch
    print("[%d/%d][27/28] Loss_D: %.4f Loss_G: 2.0000 D(x): 0.5000 D(G(z)): 0.5000 / 0.5000" % (epoch, o.niter, epoch))
'''


def test_the_train_digits_reach_main_py_in_torchvision_mnist_layout(tmp_path):
    main_py = tmp_path / "main.py"
    main_py.write_text(STAND_IN)
    data, out = tmp_path / "data", tmp_path / "run"
    out.mkdir()
    assert examples_dcgan.write_mnist_layout(data) == 3500
    net_g, cpu_s, _, last_step = examples_dcgan.run_examples(main_py, data, out, niter=3, seed=2, threads=1)
    assert last_step == "[2/3][27/28] Loss_D: 2.0000 Loss_G: 2.0000 D(x): 0.5000 D(G(z)): 0.5000 / 0.5000"
    seen = json.loads((out / "seen.json").read_text())
    assert seen["n"] == 3500 and seen["per_class"] == [350] * 10
    assert seen["args"] | {"dataroot": None, "outf": None} == {
        "dataset": "mnist", "imageSize": 64, "batchSize": 128, "niter": 3, "manualSeed": 2, "workers": 0,
        "dataroot": None, "outf": None}  # fmt: skip
    images, _ = load_digits_split("train", 28)  # in [-1, 1]: the same bytes, so the same mean
    assert seen["pixels"] == pytest.approx(float(((images + 1) * 127.5).round().mean()), rel=1e-6)
    assert net_g == out / "netG_epoch_2.pth" and net_g.is_file() and cpu_s > 0


def test_the_scored_generator_is_the_one_main_py_saved(tmp_path, monkeypatch):
    torch.manual_seed(5)
    saved = DCGANGenerator(100, 1, 64, 64).state_dict()
    torch.save(saved, tmp_path / "netG.pth")
    scored = {}
    monkeypatch.setattr(examples_dcgan, "score", lambda model, *_: scored.update(model.netG.state_dict()) or {"fid": 1.0})
    args = examples_dcgan.argparse.Namespace(grids=str(tmp_path / "grids"))
    assert examples_dcgan.score_examples_generator(tmp_path / "netG.pth", 0, args) == {"fid": 1.0}
    assert scored.keys() == saved.keys()
    assert all(torch.equal(scored[k], saved[k]) for k in saved)
    assert (tmp_path / "grids" / "examples_seed0.png").is_file()


def test_a_missing_main_py_is_named_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        examples_dcgan.main([str(tmp_path / "nope.py")])
    assert "pytorch/examples" in capsys.readouterr().err
