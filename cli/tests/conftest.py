"""Fixtures for seqlab-cli's tests."""

from __future__ import annotations

import pytest

from seqlab.core.testing import isolated_plugins


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test leaves the plugin registries as it found them."""
    with isolated_plugins():
        yield
