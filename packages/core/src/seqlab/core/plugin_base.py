"""What every plugin class shares: options from ``add_args`` or an option dataclass."""

from __future__ import annotations

from typing import Any

from .dataclass_options import add_dataclass_args


class PluginOptions:
    """Mixin: ``add_args`` adds the flags of the dataclass the plugin was registered with."""

    __dataclass__: type | None = None

    @classmethod
    def add_args(cls, parser: Any) -> None:
        """Add this plugin's flags to an argparse parser or group."""
        add_dataclass_args(parser, cls.__dataclass__)
