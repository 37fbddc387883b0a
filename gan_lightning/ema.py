"""The EMA update of ``AveragedModel`` without its two host syncs per call.

``AveragedModel.update_parameters`` branches on its ``n_averaged`` buffer in Python
(``bool(self.n_averaged == 0)``, ``if self.n_averaged > 0``): with the buffer on a GPU, that is
two host-device syncs every G step. ``ema_update`` computes the same values, with the first-call
copy chosen on the device (a lerp weight of 1, which ``torch.lerp`` computes exactly as the copy).
"""

import copy
import itertools

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


@torch.no_grad()
def ema_update(ema: AveragedModel, model: nn.Module, decay: float) -> None:
    """``ema.update_parameters(model)`` for ``AveragedModel(..., multi_avg_fn=get_ema_multi_avg_fn(decay),
    use_buffers=True)``: the first call copies ``model``, later ones move each parameter and buffer
    by ``1 - decay`` of the way to ``model``'s."""
    if not ema.use_buffers:
        raise ValueError("ema_update averages buffers too: build the AveragedModel with use_buffers=True.")
    first = ema.n_averaged == 0  # on the device: no branch on it in Python
    weight = torch.where(first, 1.0, 1.0 - decay).to(ema.n_averaged.device, torch.float32)
    floats: tuple[list[Tensor], list[Tensor]] = ([], [])
    for averaged, current in zip(
        itertools.chain(ema.module.parameters(), ema.module.buffers()),
        itertools.chain(model.parameters(), model.buffers()),
        strict=True,
    ):
        current = current.detach().to(averaged.device)
        if averaged.is_floating_point() or averaged.is_complex():
            floats[0].append(averaged.detach())
            floats[1].append(current)
        else:  # integer buffers (BatchNorm's num_batches_tracked), as get_ema_multi_avg_fn rounds them
            averaged.copy_(torch.where(first.to(averaged.device), current, averaged * decay + current * (1 - decay)))
    if floats[0]:
        torch._foreach_lerp_(floats[0], floats[1], [weight.to(t.device, t.dtype) for t in floats[0]])
    ema.n_averaged += 1


@torch.no_grad()
def recompute_batchnorm_stats(net: nn.Module, inputs: list[tuple[Tensor, ...]]) -> None:
    """Sets ``net``'s BatchNorm running statistics to the average of its batch statistics over
    ``inputs`` (each a tuple of ``net``'s arguments), as its current weights make them. This is
    ``torch.optim.swa_utils.update_bn``, which passes only a batch's first element: a conditional
    G needs its labels too. The train/eval mode and the layers' momenta are restored after."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over the batches
    was_training = net.training
    net.train()
    try:
        for args in inputs:
            net(*args)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        net.train(was_training)


def make_ema(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """A frozen exponential moving average of ``model`` (a copy, updated by ``ema_update``), or
    None without a decay. Build it before any ``compile``: the copy must stay an eager module."""
    if decay is None:
        return None
    ema = AveragedModel(copy.deepcopy(model), multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    return ema.requires_grad_(False)
