"""Check, before any training, that a GAN's networks fit the data's sample shape.

A mismatch otherwise surfaces as a matrix-size error deep inside the first D step.
"""

import torch


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
