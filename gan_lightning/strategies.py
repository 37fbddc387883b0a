"""DDP with G and D wrapped apart: each network in its own ``DistributedDataParallel``.

Lightning's ``ddp`` wraps the whole LightningModule in one DDP. A GAN's D step never reaches G's
parameters and the G step leaves D's frozen, so that one wrapper needs
``find_unused_parameters=True``: a search of the autograd graph for unused parameters after
every forward (Lightning issues #20328, #20685, #20866). StudioGAN and StyleGAN2-ADA instead wrap
G and D separately; Lightning's own ``MultiModelDDPStrategy`` (PR #20936) is not released. Here
each wrapper's parameters are all used by every backward that reaches them, so no search.

The wrappers are kept *outside* the module tree (``pl_module.__dict__["ddp_wrappers"]``), so
``netG``/``netD`` stay the plain networks everywhere else: checkpoint and ``state_dict`` keys do
not gain ``.module.``, the EMA (``AveragedModel`` of ``netG``) averages the plain weights, and
sampling on rank 0 alone (grids) never runs a DDP forward, whose buffer broadcast would wait for
the other ranks. Only the module's training forwards go through the wrappers, by
``ddp_forward(module, "netG")``.
"""

import inspect
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.overrides.distributed import _sync_module_states
from lightning.pytorch.strategies import DDPStrategy
from torch import nn
from torch.nn.parallel import DistributedDataParallel

# torch 2.14 renamed DDP's broadcast_buffers (now deprecated) to forward_sync_buffers.
_SYNC_BUFFERS_ARG = (
    "forward_sync_buffers"
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else "broadcast_buffers"
)
WRAPPERS_KEY = "ddp_wrappers"  # in pl_module.__dict__: a plain dict, so nn.Module does not register it


def ddp_forward(pl_module: LightningModule, name: str) -> nn.Module:
    """The network ``name`` to call in a training forward: its DDP wrapper when one is set up and
    the network is being trained now (grad mode on, some parameter requires grad), else itself.

    A DDP forward prepares its reducer for a backward that all-reduces the gradients. Under
    ``toggled_optimizer`` the other network's parameters are frozen; D in the G step gets no
    gradients, so it runs unwrapped (no reducer round, no buffer broadcast), as StyleGAN2-ADA
    runs D without sync in its G phase.
    """
    net = getattr(pl_module, name)
    wrapper = pl_module.__dict__.get(WRAPPERS_KEY, {}).get(name)
    if wrapper is None or not torch.is_grad_enabled() or not any(p.requires_grad for p in net.parameters()):
        return net
    return wrapper


class SeparateDDPStrategy(DDPStrategy):
    """DDP that wraps each of ``module_names`` (default netG and netD) in its own
    ``DistributedDataParallel`` instead of the whole LightningModule.

    Args:
        module_names: attributes of the LightningModule to wrap; the module must call them
            through ``ddp_forward`` in its training step (``GAN`` does).
        sync_buffers: per name, whether rank 0's buffers are copied to the others before each
            wrapped forward (DDP's ``forward_sync_buffers``; ``broadcast_buffers`` before torch
            2.14). Default: False for both. netG and netD run in training mode in the
            training step (batch statistics), so their running statistics are never read there;
            rank 0's, which checkpoints keep, are the same either way; and the EMA G's are
            recomputed from fixed latents before it samples. Each rank keeps its own running
            statistics, as under Lightning's one-wrapper ``ddp`` with manual optimization (which
            broadcasts no buffers after the first step). True for netG broadcasts them before
            each G forward: one more blocking collective per batch, which was most of the
            separate wrappers' extra step time on 2 CPU processes (docs/multi_gpu.md).
        **kwargs: DDPStrategy's arguments (``start_method``, ``timeout``, ...) and further
            ``DistributedDataParallel`` options (``gradient_as_bucket_view``, ``bucket_cap_mb``,
            ...). ``find_unused_parameters`` is refused: each wrapper uses all its parameters.
    """

    def __init__(
        self,
        module_names: tuple[str, ...] | list[str] = ("netG", "netD"),
        sync_buffers: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("find_unused_parameters"):
            raise ValueError(
                "SeparateDDPStrategy wraps netG and netD apart so that no unused-parameter search "
                "is needed; drop find_unused_parameters, or use strategy: ddp_find_unused_parameters_true "
                "for one wrapper around the whole module."
            )
        kwargs.pop("find_unused_parameters", None)
        if kwargs.get("model_averaging_period") is not None:
            raise ValueError("Post-local SGD model averaging is not supported by SeparateDDPStrategy.")
        if kwargs.get("static_graph"):
            raise ValueError(
                "static_graph is not supported by SeparateDDPStrategy: D's forwards run with and without "
                "gradient sync (D step / G step), which a static graph cannot describe."
            )
        # LightningCLI fills every DDP argument it finds behind **kwargs with its default, mostly
        # None; drop those, so that they do not override sync_buffers (DDP reads None as default).
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        super().__init__(**kwargs)
        self.module_names = tuple(module_names)
        self.sync_buffers = {"netG": False, "netD": False, **(sync_buffers or {})}

    def configure_ddp(self) -> None:
        """Wrap each named network; the LightningModule itself stays unwrapped (``self.model``)."""
        pl_module = self.model
        assert isinstance(pl_module, LightningModule)
        # One DDP around the module would broadcast all of it from rank 0 (netG_ema, buffers such
        # as fixed_noise); per-network wrappers sync only their own network, so sync the rest here.
        _sync_module_states(pl_module)
        device_ids = self.determine_ddp_device_ids()
        wrappers: dict[str, DistributedDataParallel] = {}
        for name in self.module_names:
            net = getattr(pl_module, name, None)
            if not isinstance(net, nn.Module):
                raise AttributeError(
                    f"SeparateDDPStrategy wraps module_names={list(self.module_names)} but "
                    f"{type(pl_module).__name__} has no nn.Module attribute {name!r}: set module_names "
                    "to the networks the module trains."
                )
            if not any(p.requires_grad for p in net.parameters()):
                continue  # nothing to all-reduce
            options = dict(self._ddp_kwargs)
            if "broadcast_buffers" not in options and "forward_sync_buffers" not in options:  # else: the user's, for both
                options[_SYNC_BUFFERS_ARG] = self.sync_buffers.get(name, True)
            stream = torch.cuda.stream(torch.cuda.Stream()) if device_ids is not None else None
            if stream is not None:  # as Lightning's DDPStrategy: build the wrapper on a side stream
                with stream:
                    wrappers[name] = DistributedDataParallel(net, device_ids=device_ids, **options)
            else:
                wrappers[name] = DistributedDataParallel(net, device_ids=device_ids, **options)
        pl_module.__dict__[WRAPPERS_KEY] = wrappers
        self._register_ddp_hooks()

    def _register_ddp_hooks(self) -> None:
        """Comm hooks (``ddp_comm_hook``) go on each wrapper; Lightning's registers on one."""
        from lightning.pytorch.overrides.distributed import _register_ddp_comm_hook

        if self.root_device.type != "cuda" or self._ddp_comm_hook is None:
            return
        for wrapper in self.wrappers.values():
            _register_ddp_comm_hook(
                model=wrapper,
                ddp_comm_state=self._ddp_comm_state,
                ddp_comm_hook=self._ddp_comm_hook,
                ddp_comm_wrapper=self._ddp_comm_wrapper,
            )

    @property
    def wrappers(self) -> dict[str, DistributedDataParallel]:
        """The DDP wrappers by network name ({} before ``fit`` sets them up and after teardown)."""
        module = self.lightning_module
        return {} if module is None else module.__dict__.get(WRAPPERS_KEY, {})

    def teardown(self) -> None:
        """Drop the wrappers, so a later validate/predict or a pickled module has none."""
        module = self.lightning_module
        if module is not None:
            module.__dict__.pop(WRAPPERS_KEY, None)
        super().teardown()
