"""SGD with momentum, and a variant that forgets its momentum when saved."""

from dataclasses import dataclass, field

import torch

from seqlab.core import Optimizer, register_optimizer


@dataclass
class ToyMomentumConfig:
    momentum: float = field(default=0.9, metadata={"help": "momentum factor"})


@register_optimizer("toy_momentum", dataclass=ToyMomentumConfig)
class ToyMomentum(Optimizer):
    def __init__(self, args, params):
        super().__init__(args, params)
        self._optimizer = torch.optim.SGD(list(params), lr=args.lr[0], momentum=args.momentum)


@register_optimizer("toy_forgetful", dataclass=ToyMomentumConfig)
class ToyForgetful(ToyMomentum):
    """Breaks: its state dict leaves out the momentum buffers."""

    def state_dict(self):
        return {**super().state_dict(), "state": {}}
