"""Weight initialisation schemes chosen by name in the GAN module (``model.weight_init``)."""

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN weight init: conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02), bias 0.

    Apply with ``net.apply(dcgan_init)``, as the seed loop does with its ``weights_init``.
    """
    name = type(module).__name__
    if "Conv" in name or name == "Linear":
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif "BatchNorm" in name and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
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


def prepare_networks(
    netG: nn.Module, netD: nn.Module, weight_init: str, spectral_norm: bool, channels_last: bool
) -> None:
    """The GAN's one-time changes to its networks, in the order that matters: the ``dcgan``
    initialisation, then spectral norm on D (which must see the initialised weights), then the
    channels-last memory format (faster convolutions on recent GPUs, and under bf16)."""
    if weight_init == "dcgan":
        netG.apply(dcgan_init)
        netD.apply(dcgan_init)
    if spectral_norm:
        add_spectral_norm(netD)
    if channels_last:
        netG.to(memory_format=torch.channels_last)
        netD.to(memory_format=torch.channels_last)


def compile_networks(netG: nn.Module, netD: nn.Module, backend: bool | str) -> None:
    """``torch.compile`` both networks in place (``nn.Module.compile``: checkpoint keys do not
    change); True uses the default backend (inductor), a string names another, False does nothing."""
    if backend:
        kwargs = {"backend": backend} if isinstance(backend, str) else {}
        netG.compile(**kwargs)
        netD.compile(**kwargs)
