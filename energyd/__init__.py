"""energyd: an energy price daemon (provider plugins, SQLite store, MQTT prices and commands)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("energyd")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
