"""fstatcache: stat(2) answers from the fstatcached shared-memory cache.

A running ``fstatcached`` writer keeps the stat(2) answers of many paths
fresh from inotify in POSIX shared memory; this package reads them
lock-free, without a system call on a hit.  A path that is not cached is
answered by stat(2) and the writer is asked to watch it, so every answer
is correct whether or not a writer runs.

Two levels:

``FStatCache(timeout=None, *, name=None)``
    The API of the original Python library fstat-cache (also importable
    as ``from fstat_cache import FStatCache``): ``build(paths)``,
    ``get_file_stats(path)`` -> ``{'ts': mtime, 'size': size}`` or None,
    ``get_file_stats_using_stat``, ``add_file_to_watch``,
    ``remove_from_watch``, ``list_files_in_cache``, ``invalidate``.

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

The cache is one per instance name and host (per user by default),
shared by every process that reads it, not one per FStatCache object.
How FStatCache differs from the original: docs/PYTHON.md.
"""

from __future__ import annotations

import errno
import functools
import numbers
import os
import stat as _stat
import types
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

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
        "PYTHONPATH=build/python, or install it with 'meson install' or "
        "'pip install .' from the source tree."
    ) from _exc

__all__ = ["FStatCache", "Handle", "StatResult", "Entry", "Change",
           "__version__"]

PathType = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Stats = Dict[str, Union[float, int]]


def _fspath(path: PathType) -> Union[str, bytes]:
    """os.fspath(path), refusing what os.stat() would take but is no path
    (an int is a file descriptor to os.stat) and a NUL byte."""
    p = os.fspath(path)
    if ("\0" if isinstance(p, str) else b"\0") in p:
        raise ValueError(f"embedded null byte in path {path!r}")
    return p


def _absolute(path: PathType) -> Union[str, bytes]:
    """``path`` as os.stat() takes it: a relative one joined to the working
    directory (named without symlinks by getcwd, so the same file)."""
    p = _fspath(path)
    if isinstance(p, bytes):
        return p if p.startswith(b"/") else os.path.join(os.getcwdb(), p)
    return p if p.startswith("/") else os.path.join(os.getcwd(), p)


def _regular_file_stats(path: PathType) -> Optional[Stats]:
    """{'ts', 'size'} of a regular file from os.stat(), None for a path
    that is not one (missing, a directory, ...)."""
    try:
        st = os.stat(_fspath(path))
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not _stat.S_ISREG(st.st_mode):
        return None
    return {"ts": st.st_mtime, "size": st.st_size}


class _static_or_bound:
    """A method callable on the class, like the original's static method
    (``FStatCache.list_files_in_cache()``: the default instance), and on
    an object (that object's instance)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __get__(self, obj: Optional["FStatCache"], cls: type) -> Callable[[], Any]:
        if obj is not None:
            return types.MethodType(self.func, obj)
        func = self.func

        @functools.wraps(func)
        def on_class() -> Any:
            return func(None)
        return on_class


class FStatCache:
    """The fstat-cache API over an fstatcache instance.

    ``timeout`` is the original's constructor argument (its monitor
    thread's inotify poll, in ms): None or a number >= 0, accepted and
    kept as ``self.timeout``; it changes nothing here, where no thread
    polls.  ``name`` (keyword only) is the fstatcached instance (None:
    ``$FSTATCACHE_NAME``, else ``'fstatcache'``).  The object holds a
    reader :class:`Handle` (``self.handle``); it needs no writer to answer
    ``get_file_stats`` (answers then come from stat(2)), but ``build``,
    ``add_file_to_watch``, ``remove_from_watch`` and ``invalidate`` talk
    to the writer and raise OSError (errno ENOTCONN) when none runs.
    Thread-safe; close() it, or use it as a context manager, to release
    its mapping at once.  Paths are str, bytes or os.PathLike; a relative
    one is taken against the working directory, as os.stat() takes it.
    """

    def __init__(self, timeout: Optional[float] = None, *,
                 name: Optional[str] = None) -> None:
        if isinstance(timeout, str):
            # fstatcache 0.1.0 took the instance name first: FStatCache("demo").
            if name is not None:
                raise TypeError("FStatCache() got the instance name twice "
                                "(positional and name=)")
            warnings.warn("FStatCache(name) is deprecated: the first "
                          "argument is the original fstat-cache's timeout; "
                          "use FStatCache(name=...)", DeprecationWarning,
                          stacklevel=2)
            timeout, name = None, timeout
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError("timeout must be None or a number (ms), not "
                                f"{type(timeout).__name__}")
            if not timeout >= 0:
                raise ValueError(f"timeout must be >= 0 (ms), not {timeout!r}")
        self.timeout = timeout
        self.handle = Handle(name)
        # The hot path goes straight to the C method: a Python-level call
        # in between would add a fifth to the cost of a hit (bench/
        # python_bench.py).  Same behaviour as get_file_stats() below,
        # which a subclass may still override.
        if type(self).get_file_stats is FStatCache.get_file_stats:
            self.get_file_stats = self.handle.file_stats  # type: ignore

    def build(self, paths: Iterable[PathType]) -> None:
        """Start caching every path in ``paths`` (an iterable of paths).

        Returns None once the writer has cached all of them; a path that
        does not exist yet is cached as "does not exist" and watched for
        its creation (the original skips it).  Raises ValueError for a
        non-canonical path ('.', '..', '//', a trailing '/'; before
        anything is sent), OSError when the writer refuses a path (with
        its reason) or no writer runs.
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("build() takes an iterable of paths, not a "
                            f"single {type(paths).__name__}")
        keys = [_absolute(p) for p in paths]
        for p in keys:  # check every path before sending any
            _check_key(p)
        for p in keys:
            self.handle.watch(p)

    def get_file_stats(self, path: PathType) -> Optional[Stats]:
        """The original fstat-cache's answer for one file: ``{'ts': mtime, 'size': size}``.

        ``ts`` is the modification time in seconds as a float (equal to
        ``os.stat(path).st_mtime``), ``size`` the size in bytes.  From the
        cache on a hit; otherwise from stat(2), and, when the file exists,
        the writer is asked to watch the path so the next call hits.

        None when the path is not a regular file: nothing there (the
        original's answer), a directory, a device.  Other stat(2) errors
        (EACCES, ELOOP, ...) raise OSError, where the original returns
        None; a path with a NUL byte raises ValueError.
        """
        return self.handle.file_stats(path)

    @staticmethod
    def get_file_stats_using_stat(path: PathType) -> Optional[Stats]:
        """What get_file_stats() answers, from os.stat() every time.

        The original's baseline for benchmarks: the same dict, or None
        for a path that is not a regular file; never uses the cache.
        """
        return _regular_file_stats(path)

    def add_file_to_watch(self, path: PathType) -> None:
        """Watch and cache ``path``; returns None once it is cached.

        Raises FileNotFoundError when the path is not an existing regular
        file (as the original), ValueError for a non-canonical path (no
        '.', '..', '//' or trailing '/'), OSError when the writer refuses
        it.
        """
        key = _absolute(path)
        if _regular_file_stats(key) is None:
            raise FileNotFoundError(errno.ENOENT,
                                    "not an existing regular file", path)
        self.handle.watch(key)

    def remove_from_watch(self, path: PathType) -> None:
        """Stop watching ``path`` and drop it from the cache.

        Raises KeyError when the path is not watched (as the original),
        which includes every path the cache could not hold (not
        canonical).
        """
        key = _absolute(path)
        try:
            _check_key(key)
            self.handle.unwatch(key)
        except (ValueError, FileNotFoundError):
            raise KeyError(path) from None

    @_static_or_bound
    def list_files_in_cache(self: Optional["FStatCache"]) -> List[str]:
        """The paths in the cache, sorted.

        Every entry of the instance's table: paths watched by any client
        and paths cached after a miss, including watched paths that do not
        exist (yet).  Empty when no writer runs.  Called on the class, as
        the original's static method, it lists the default instance
        (``$FSTATCACHE_NAME``, else ``'fstatcache'``).
        """
        if self is None:
            with Handle(None, requests=False) as h:
                entries = h.entries()
        else:
            entries = self.handle.entries()
        # set: a scan that overlapped the writer's moves may list a path twice
        return sorted({e.path for e in entries})

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

