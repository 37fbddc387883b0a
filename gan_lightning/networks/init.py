"""What the GAN module does to its networks once, when it is built (``model.network_setup``):
weight initialisation, spectral norm on D, memory format and ``torch.compile``."""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class NetworkSetup:
    """One-time changes to netG and netD (``model.network_setup`` in YAML).

    Args:
        weight_init: "dcgan": N(0, 0.02) weights, N(1, 0.02) BatchNorm scales, zero biases
            (the DCGAN paper and the seed loops; PacGAN's 2-D networks too); "he_uniform": every
            Linear/Conv weight U(-sqrt(6 / fan_in), sqrt(6 / fan_in)) (He et al. 2015, standard
            deviation sqrt(2 / fan_in)) and zero biases (WGAN-GP's toy networks, gan_toy.py);
            "default": the layers' own PyTorch init.
        spectral_norm: constrain every Linear/Conv layer of netD to spectral norm 1.
        channels_last: both networks and the real batches in channels-last memory format.
        compile: ``torch.compile`` netG and netD in place (checkpoint keys unchanged); True uses
            inductor, a string names another backend, e.g. "aot_eager".
    """

    weight_init: Literal["default", "dcgan", "he_uniform"] = "default"
    spectral_norm: bool = False
    channels_last: bool = False
    compile: bool | str = False


def dcgan_init(module: nn.Module) -> None:
    """DCGAN weight init: conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02), bias 0.

    Apply with ``net.apply(dcgan_init)``, as the seed loop does with its ``weights_init``.
    """
    if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def he_uniform_init(module: nn.Module) -> None:
    """He-uniform init: conv/linear weights U(-sqrt(6 / fan_in), sqrt(6 / fan_in)), bias 0
    (tflib's ``initialization='he'`` in WGAN-GP's gan_toy.py; its output layers use Glorot-uniform,
    sqrt(2 / (fan_in + fan_out)), whose bound for 512 -> 2 or 512 -> 1 is 0.2% or 0.1% below He's)."""
    if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
        nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def add_spectral_norm(net: nn.Module) -> nn.Module:
    """Constrain every Linear/Conv layer of ``net`` to spectral norm 1 (Miyato et al. 2018), in
    place, through ``torch.nn.utils.parametrizations.spectral_norm``. Apply after any
    initialisation, which writes the unconstrained weights. Layers that already carry a
    parametrization (e.g. the SNGAN D's built-in spectral norm) are left as they are."""
    for layer in list(net.modules()):
        if isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)) and not nn.utils.parametrize.is_parametrized(layer, "weight"):
            nn.utils.parametrizations.spectral_norm(layer)
    return net


def prepare_networks(netG: nn.Module, netD: nn.Module, setup: NetworkSetup) -> None:
    """The changes before the EMA copy, in the order that matters: the weight initialisation,
    then spectral norm on D (which must see the initialised weights), then the channels-last
    memory format (faster convolutions on recent GPUs, and under bf16)."""
    init = {"dcgan": dcgan_init, "he_uniform": he_uniform_init}.get(setup.weight_init)
    if init is not None:
        netG.apply(init)
        netD.apply(init)
    if setup.spectral_norm:
        add_spectral_norm(netD)
    if setup.channels_last:
        netG.to(memory_format=torch.channels_last)
        netD.to(memory_format=torch.channels_last)


def compile_networks(netG: nn.Module, netD: nn.Module, backend: bool | str) -> None:
    """``torch.compile`` both networks in place (``nn.Module.compile``: checkpoint keys do not
    change), after the EMA copy, which must stay an eager module; True uses the default backend
    (inductor), a string names another, False does nothing."""
    if backend:
        kwargs = {"backend": backend} if isinstance(backend, str) else {}
        netG.compile(**kwargs)
        netD.compile(**kwargs)
