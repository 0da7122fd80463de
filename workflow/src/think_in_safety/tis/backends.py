"""Model backends of the TiS assembly's captioner and thought writer.

* :class:`OpenAICompatibleChat` — any server that speaks the OpenAI ``/chat/completions`` API
  (OpenAI, vLLM's and SGLang's servers, DeepSeek, ...), over HTTP with ``requests``: retries with
  backoff on timeouts, 429 and 5xx; images are sent inline as base64 ``data:`` URLs.
* :class:`LocalTransformersChat` — a local Hugging Face image-text-to-text model, through the
  workflow's own generation backend (``models.generate.TransformersBackend``).

Both answer :meth:`complete` (one chat -> text) and carry an ``identity`` string that is written
on every caption and thought they produce.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


def image_part(path: str | Path) -> dict:
    """An OpenAI chat content part carrying the image file inline."""
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


@dataclass
class OpenAICompatibleChat:
    """``POST {base_url}/chat/completions``; the key is read from the env variable ``api_key_env``."""

    model: str
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    max_tokens: int = 1024
    timeout: float = 120.0
    retries: int = 4
    workers: int = 4
    backoff: float = 2.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def identity(self) -> str:
        return f"openai-compatible:{self.model}@{self.base_url}"

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, messages: list[dict]) -> str:
        """The assistant text of one chat; raises RuntimeError naming the endpoint after the retries."""
        url = self.base_url.rstrip("/") + "/chat/completions"
        payload = {"model": self.model, "messages": messages, "temperature": self.temperature,
                   "max_tokens": self.max_tokens}
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.session.post(url, json=payload, headers=self._headers(), timeout=self.timeout)
            except requests.RequestException as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    choice = response.json()["choices"][0]["message"]
                    return str(choice.get("content") or "")
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRYABLE:
                    break
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        hint = "" if os.environ.get(self.api_key_env or "", "") else f" (is {self.api_key_env} set?)"
        raise RuntimeError(f"{url} failed for model {self.model!r}: {last}{hint}")

    def complete_many(self, chats: list[list[dict]]) -> list[str]:
        """:meth:`complete` for many chats, ``workers`` at a time, results in order."""
        if self.workers <= 1 or len(chats) <= 1:
            return [self.complete(chat) for chat in chats]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self.complete, chats))


@dataclass
class LocalTransformersChat:
    """A local image-text-to-text model (path or hub id) answering one user turn at a time."""

    model_path: str
    max_new_tokens: int = 512
    temperature: float = 0.0
    batch_size: int = 4
    seed: int = 0
    _backend: object = field(default=None, repr=False)

    @property
    def identity(self) -> str:
        return f"transformers:{self.model_path}"

    def _load(self):
        if self._backend is None:
            from think_in_safety.models.generate import TransformersBackend

            self._backend = TransformersBackend(
                self.model_path, {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature})
        return self._backend

    def complete_many(self, prompts: list[tuple[str, str, list[str]]]) -> list[str]:
        """``(system, user text, image paths)`` per request -> generated texts, in order."""
        from think_in_safety.models.generate import Request

        backend = self._load()
        texts = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [Request(str(start + i), 0, system, user, tuple(images))
                     for i, (system, user, images) in enumerate(prompts[start:start + self.batch_size])]
            texts.extend(output.text for output in backend.generate(batch, seed=self.seed + start))
        return texts
