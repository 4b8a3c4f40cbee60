"""Errors a user can cause: the command-line tools show them as one line."""

from __future__ import annotations


class SeqlabError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class PluginError(SeqlabError):
    """A plugin could not be found, loaded or registered."""


class ConfigError(SeqlabError):
    """An option, flag or configuration file is wrong."""
