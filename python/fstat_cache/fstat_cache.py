"""fstat_cache.fstat_cache: the module the original fstat-cache defined
FStatCache in, for code that imports it from there."""

from fstatcache import FStatCache

__all__ = ["FStatCache"]
