"""What the GAN module reads from its networks, written once and checked once.

A generator (netG):
- ``latent_dim: int``: the size of z; ``forward(z)`` maps (N, latent_dim) to (N, *sample_shape),
  or ``forward(z, labels)`` when conditional.
- ``num_classes: int | None``: set (to the GAN's ``num_classes``) when G is class-conditional.

A discriminator (netD):
- ``forward(x)`` (``forward(x, labels)`` when conditional) maps (N, *sample_shape) to N raw
  outputs (logits, critic scores or energies; shape (N,) or (N, 1)), not probabilities.
- ``pack: int`` (optional, 1 if absent): PacGAN packing; D then takes ``pack`` samples stacked
  along the first sample dimension (channels) and gives one output per pack.
- ``num_classes: int | None``: as for G.
- ``encoder: nn.Module`` (optional): the code of an autoencoder D, read by the pulling-away term.

Both may take ``image_size`` and ``channels`` (images) or ``in_shape`` / ``out_shape`` arguments:
the CLI sets them from the data's sample shape (``shape_check.fit_to_data_shape``), and the GAN
checks at setup that G makes and D takes that shape (``shape_check.check_networks_fit``).
"""

from torch import nn


def check_network_contract(netG: nn.Module, netD: nn.Module, num_classes: int | None) -> int:
    """Raise a ValueError naming the fix if a network lacks what the GAN reads; return D's pack."""
    if not isinstance(getattr(netG, "latent_dim", None), int):
        raise ValueError(f"netG ({type(netG).__name__}) needs an int attribute `latent_dim`, the size of z.")
    pack = getattr(netD, "pack", 1)
    if not isinstance(pack, int) or pack < 1:
        raise ValueError(f"netD ({type(netD).__name__}) has pack={pack!r}: PacGAN packing is an int >= 1.")
    if num_classes is not None and num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (or None for an unconditional GAN), got {num_classes}.")
    for name, net in (("netG", netG), ("netD", netD)):
        has = getattr(net, "num_classes", None)
        if has != num_classes:
            raise ValueError(
                f"The GAN has num_classes={num_classes} but {name} ({type(net).__name__}) was built with "
                f"num_classes={has}: build both networks with num_classes={num_classes} (the CLI copies "
                "model.num_classes to them; set it only there)."
            )
    if num_classes is not None and pack > 1:
        raise ValueError(
            f"A conditional GAN cannot pack samples (netD pack={pack}): a pack of samples has no one label. "
            "Set pack: 1 or num_classes: null."
        )
    return pack
