"""A linear warmup, and variants that each break one contract."""

from dataclasses import dataclass, field

from seqlab.core import LRScheduler, register_lr_scheduler


@dataclass
class ToyWarmupConfig:
    warmup_updates: int = field(default=100, metadata={"help": "warm the lr up over N updates"})


@register_lr_scheduler("toy_warmup", dataclass=ToyWarmupConfig)
class ToyWarmup(LRScheduler):
    def __init__(self, args, optimizer):
        super().__init__(args, optimizer)
        self.peak = args.lr[0]
        self.warmup = args.warmup_updates

    def step_update(self, num_updates):
        lr = self.peak * min(1.0, (num_updates + 1) / self.warmup)
        self.optimizer.set_lr(lr)
        return lr


@register_lr_scheduler("toy_unset_lr", dataclass=ToyWarmupConfig)
class ToyUnsetLR(ToyWarmup):
    """Breaks: returns the lr without setting it on the optimizer."""

    def step_update(self, num_updates):
        return self.peak * min(1.0, (num_updates + 1) / self.warmup)


@register_lr_scheduler("toy_decay_per_call")
class ToyDecayPerCall(LRScheduler):
    """Breaks: decays a value it keeps but does not save in its state dict."""

    def __init__(self, args, optimizer):
        super().__init__(args, optimizer)
        self.lr = args.lr[0]

    def step_update(self, num_updates):
        self.lr *= 0.999
        self.optimizer.set_lr(self.lr)
        return self.lr
