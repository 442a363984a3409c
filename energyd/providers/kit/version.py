"""The plugin kit's version: bumped by one on a breaking change, kept on additive ones.

Its own module so the loader can read it without importing the rest of the kit.
"""

from __future__ import annotations

__all__ = ["KIT_VERSION"]

#: The kit this energyd offers; a plugin with ``REQUIRES_KIT`` above it is not loaded.
KIT_VERSION = 1
