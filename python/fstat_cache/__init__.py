"""fstat_cache: the original fstat-cache library's import name.

Programs written for the Python library fstat-cache keep their import::

    from fstat_cache import FStatCache

and get :class:`fstatcache.FStatCache`, the same API served by the shared
fstatcached cache (a writer must run for the cache to serve; without one
every answer comes from stat(2)).  The instance is ``$FSTATCACHE_NAME``
(else ``fstatcache``), or ``FStatCache(name=...)``.  Where it differs from
the original: docs/PYTHON.md.
"""

from fstatcache import FStatCache

__all__ = ["FStatCache"]
