"""Errors of judge backends."""

from __future__ import annotations

from ...ops.errors import RaiwatchError


class BackendError(RaiwatchError):
    """A judge backend cannot run at all: bad configuration, missing weights, missing package."""


class BackendNotInstalledError(BackendError):
    """An optional backend's package (vllm) is not installed; the message names what to install."""
