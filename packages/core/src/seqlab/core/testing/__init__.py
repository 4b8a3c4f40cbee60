"""Helpers for the tests of seqlab and of plugin packages."""

from .isolation import isolated_plugins

__all__ = ["isolated_plugins"]
