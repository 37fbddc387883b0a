"""The EMA generator: its update (with a warm-up), without ``AveragedModel``'s host syncs, and
its BatchNorm statistics.

``AveragedModel.update_parameters`` branches on its ``n_averaged`` buffer in Python
(``bool(self.n_averaged == 0)``, ``if self.n_averaged > 0``): with the buffer on a GPU, that is
two host-device syncs every G step. ``ema_update`` computes its values on the device, with the
first-call copy chosen there (a lerp weight of 1, which ``torch.lerp`` computes exactly as the copy).

Warm-up: with a fixed decay of 0.999 the EMA after 1,000 updates still holds 0.999^1000 = 37%
of the untrained G, so every early grid, checkpoint and tracked FID shows a blur. Update n
(counted from 0) uses min(decay, (1 + n) / (10 + n)), the warm-up of TensorFlow's
``ExponentialMovingAverage(num_updates=...)``: an average over roughly the last tenth of training
until the configured decay takes over (at n = 8,990 for 0.999). ``warmup=False`` is
``AveragedModel`` with ``get_ema_multi_avg_fn(decay)`` value for value (tested).
"""

import copy
import itertools

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


@torch.no_grad()
def ema_update(ema: AveragedModel, model: nn.Module, decay: float, warmup: bool = True) -> None:
    """One EMA update of ``ema`` (an ``AveragedModel(..., use_buffers=True)``) towards ``model``:
    the first call copies it, later ones move each parameter and buffer by ``1 - decay`` of the
    way, with decay min(decay, (1 + n) / (10 + n)) at update n when ``warmup``."""
    if not ema.use_buffers:
        raise ValueError("ema_update averages buffers too: build the AveragedModel with use_buffers=True.")
    n = ema.n_averaged  # on the device: no branch on it in Python
    first = n == 0
    if warmup:
        decay = torch.clamp((1.0 + n) / (10.0 + n), max=decay).to(torch.float32)
    weight = torch.where(first, 1.0, 1.0 - decay).to(n.device, torch.float32)
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
            kept = torch.as_tensor(decay, device=averaged.device)
            averaged.copy_(torch.where(first.to(averaged.device), current, averaged * kept + current * (1 - kept)))
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
