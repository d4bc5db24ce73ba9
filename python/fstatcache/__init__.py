"""fstatcache: stat(2) answers from the fstatcached shared-memory cache.

A running ``fstatcached`` writer keeps the stat(2) answers of many paths
fresh from inotify in POSIX shared memory; this package reads them
lock-free, without a system call on a hit.  A path that is not cached is
answered by stat(2) and the writer is asked to watch it, so every answer
is correct whether or not a writer runs.

Two levels:

``FStatCache(name=None)``
    The API of the original Python library fstat-cache: ``build(paths)``,
    ``get_file_stats(path)`` -> ``{'ts': mtime, 'size': size}``,
    ``add_file_to_watch``, ``remove_from_watch``, ``list_files_in_cache``,
    ``invalidate``.

``Handle(name=None, *, attached=False, requests=True)``
    The reader API of ``<fstatcache/fstatcache.h>``: ``stat``, ``lookup``,
    ``lookup_many``, ``request_watch``, ``sync``, ``watch``, ``unwatch``,
    ``invalidate``, ``entries``, and the change feed ``changes`` and
    ``wait_changes`` (``Change`` tuples); answers are ``StatResult`` tuples.

Example::

    import fstatcache
    cache = fstatcache.FStatCache()          # instance $FSTATCACHE_NAME
    cache.build(['/var/log/syslog', '/var/log/auth.log'])
    print(cache.get_file_stats('/var/log/syslog'))  # {'ts': ..., 'size': ...}

Paths are str, bytes or os.PathLike and must be absolute.  The cache is
one per instance name and host (per user by default), shared by every
process that reads it, not one per FStatCache object.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Union

try:
    from ._fstatcache import Change, Entry, Handle, StatResult, __version__
    from ._fstatcache import _check_key
except ImportError as _exc:  # pragma: no cover - depends on the build
    _here = os.path.dirname(os.path.abspath(__file__))
    raise ImportError(
        "fstatcache: its C extension fstatcache._fstatcache could not be "
        f"loaded from {_here} ({_exc}).  It is built by meson with the "
        "rest of fstatcache (Debian: apt-get install python3-dev; then "
        "'meson setup build && ninja -C build'): use it with "
        "PYTHONPATH=build/python, or install it with 'meson install'."
    ) from _exc

__all__ = ["FStatCache", "Handle", "StatResult", "Entry", "Change",
           "__version__"]

PathType = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class FStatCache:
    """The fstat-cache API over an fstatcache instance.

    ``name`` is the fstatcached instance (None: ``$FSTATCACHE_NAME``, else
    ``'fstatcache'``).  The object holds a reader :class:`Handle`
    (``self.handle``); it needs no writer to answer ``get_file_stats``
    (answers then come from stat(2)), but ``build``, ``add_file_to_watch``,
    ``remove_from_watch`` and ``invalidate`` talk to the writer and raise
    OSError (errno ENOTCONN) when none runs.  Thread-safe; close() it, or
    use it as a context manager, to release its mapping at once.
    """

    def __init__(self, name: Optional[str] = None) -> None:
        self.handle = Handle(name)
        # The hot path goes straight to the C method: a Python-level call
        # in between would add a fifth to the cost of a hit (bench/
        # python_bench.py).  Same behaviour as get_file_stats() below,
        # which a subclass may still override.
        if type(self).get_file_stats is FStatCache.get_file_stats:
            self.get_file_stats = self.handle.file_stats  # type: ignore

    def build(self, paths: Iterable[PathType]) -> None:
        """Start caching every path in ``paths`` (an iterable of paths).

        Returns once the writer has cached all of them; a path that does
        not exist yet is cached as "does not exist" and watched for its
        creation.  Raises ValueError for a relative or non-canonical path
        (before anything is sent), OSError when the writer refuses a path
        (with its reason) or no writer runs.
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("build() takes an iterable of paths, not a "
                            f"single {type(paths).__name__}")
        paths = list(paths)
        for p in paths:  # check every path before sending any
            _check_key(p)
        for p in paths:
            self.handle.watch(p)

    def get_file_stats(self, path: PathType) -> Dict[str, Union[float, int]]:
        """The original fstat-cache's answer for one file: ``{'ts': mtime, 'size': size}``.

        ``ts`` is the modification time in seconds as a float (equal to
        ``os.stat(path).st_mtime``), ``size`` the size in bytes.  From the
        cache on a hit; otherwise from stat(2), and, when the file exists,
        the writer is asked to watch the path so the next call hits (a
        missing path is not remembered: build() or add_file_to_watch()
        watch a path that does not exist yet).

        A file that does not exist raises FileNotFoundError (or
        NotADirectoryError, when stat(2) answered and a component is not a
        directory), as os.stat() and the original fstat-cache's stat fallback
        do: code written for it keeps working.  Other stat(2) errors raise
        OSError; a relative path or one with a NUL byte raises ValueError.
        """
        return self.handle.file_stats(path)

    def add_file_to_watch(self, path: PathType) -> None:
        """Watch and cache ``path``; returns once it is cached.

        Raises ValueError for a relative or non-canonical path (no '.',
        '..', '//' or trailing '/'), OSError when the writer refuses it.
        """
        self.handle.watch(path)

    def remove_from_watch(self, path: PathType) -> None:
        """Stop watching ``path`` and drop it from the cache.

        Raises KeyError when the path is not watched (as the original fstat-cache does).
        """
        try:
            self.handle.unwatch(path)
        except FileNotFoundError:
            raise KeyError(path) from None

    def list_files_in_cache(self) -> List[str]:
        """The paths in the cache, sorted.

        Every entry of the instance's table: paths watched by any client
        and paths cached after a miss, including watched paths that do not
        exist (yet).  Empty when no writer runs.
        """
        # set: a scan that overlapped the writer's moves may list a path twice
        return sorted({e.path for e in self.handle.entries()})

    def invalidate(self) -> None:
        """Unwatch every path and clear the cache (for every reader)."""
        self.handle.invalidate()

    def sync(self) -> None:
        """Return once every change made before the call is in the cache."""
        self.handle.sync()

    def close(self) -> None:
        """Release the handle; later calls raise ValueError."""
        self.handle.close()

    def __enter__(self) -> "FStatCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<fstatcache.FStatCache name={self.handle.name!r}>"

