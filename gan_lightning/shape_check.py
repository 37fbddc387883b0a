"""The networks and the data's sample shape: the shape arguments a network gets from the data,
and a check, before any training, that a GAN's networks fit it.

A mismatch otherwise surfaces as a matrix-size error deep inside the first D step.
"""

import inspect
from typing import Any, Callable

import torch

# A network argument that the data's sample shape sets, and its value for that shape.
SHAPE_ARGS: dict[str, Callable[[tuple[int, ...]], Any]] = {
    "channels": lambda shape: shape[0], "image_size": lambda shape: shape[-1], "in_shape": list, "out_shape": list,
}


def _same(a: object, b: object) -> bool:
    """Equal values, lists and tuples compared by their items (YAML gives lists)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def fit_to_data_shape(net_class: type, init_args: dict[str, Any], shape: tuple[int, ...], where: str = "the network") -> dict[str, Any]:
    """``init_args`` with each shape argument that ``net_class`` takes (``SHAPE_ARGS``) set from
    the data's sample ``shape``: what the CLI does for every run, and what a script that builds
    networks in Python calls to get the same networks. A value given in ``init_args`` that
    disagrees both with the data and with the network's default is refused: the image size and
    channels are set once, on the data."""
    params = inspect.signature(net_class).parameters
    filled = dict(init_args)
    for key, from_shape in SHAPE_ARGS.items():
        if key not in params:
            continue
        wanted = from_shape(shape)
        if key in init_args and not (_same(init_args[key], wanted) or _same(init_args[key], params[key].default)):
            raise ValueError(
                f"{where}.init_args.{key} is {init_args[key]} but the data serves samples of shape {shape}: "
                f"image size and channels are set once, on the data (e.g. data.init_args.image_size)."
            )
        filled[key] = wanted
    return filled


@torch.no_grad()
def check_networks_fit(gan: "GAN", data_shape: tuple[int, ...]) -> None:  # noqa: F821
    """Raise a ValueError naming both shapes if netG does not make, or netD does not take,
    samples of ``data_shape`` (packed by ``gan.pack``). Leaves the networks' modes unchanged."""
    was_training = gan.training
    gan.eval()
    n = 2 * gan.pack
    labels = None if gan.num_classes is None else torch.zeros(n, dtype=torch.long, device=gan.device)
    try:
        z = gan.draw_latent(n)
        fake_shape = tuple((gan.netG(z) if labels is None else gan.netG(z, labels)).shape[1:])
        if fake_shape != data_shape:
            raise ValueError(
                f"netG makes samples of shape {fake_shape} but the data has shape {data_shape}: "
                "set the generator's output size/channels to match the datamodule."
            )
        x = torch.zeros(n, *data_shape, device=gan.device)
        try:
            out = gan.discriminate(x, labels)
        except RuntimeError as err:
            raise ValueError(
                f"netD cannot take samples of shape {data_shape}"
                f"{f' packed by {gan.pack}' if gan.pack > 1 else ''}: {err}. "
                "Set the discriminator's input size/channels to match the datamodule."
            ) from None
        if out.shape != (2,):
            raise ValueError(
                f"netD must give one output per sample (shape (N,) or (N, 1)); for a batch of "
                f"{n} samples of shape {data_shape} it gave {tuple(out.shape)}."
            )
    finally:
        gan.train(was_training)
