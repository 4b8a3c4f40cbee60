"""Errors a user can cause: the command-line tools show them as one line."""

from __future__ import annotations

# every break str.splitlines() knows, shown escaped so that a message stays one line
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class SeqlabError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    def __str__(self) -> str:
        # messages quote what the user gave (a path, a flag, a name), which may hold line breaks
        return super().__str__().translate(_LINE_BREAKS)


class PluginError(SeqlabError):
    """A plugin could not be found, loaded or registered."""


class ConfigError(SeqlabError):
    """An option, flag or configuration file is wrong."""
