"""Stage 2 of the TiS assembly: one caption per image.

The released TiS thought writer saw a caption, not the image (docs/study.md). Backends (config
``tis.captioner.backend``):

* ``openai`` — an OpenAI-compatible vision model (``model``, ``base_url``, ``api_key_env``);
* ``transformers`` — a local image-text-to-text model (``model``: path or hub id);
* ``precomputed`` — captions read from JSON files mapping each image's release path to its
  caption (``files``: {source: path}); by default each source release's ``demo_captions.json``,
  which the demo writers produce: the demo's images are drawings of known scene texts, so the
  demo needs no captioning model (and has none).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from think_in_safety.tis.backends import LocalTransformersChat, OpenAICompatibleChat, image_part
from think_in_safety.training_sets.common import DEMO_CAPTIONS_FILE

CAPTION_COLUMNS = {
    "image": "image file, relative to the sources stage's image directory",
    "caption": "what the image shows, in one or a few sentences",
    "captioner": "identity of the captioning backend",
}

CAPTION_PROMPT = (
    "Describe this image in two or three factual sentences: the setting, the people or objects, any "
    "visible text, and anything that could matter for safety. Do not guess identities."
)
BACKENDS = ("openai", "transformers", "precomputed")


def _precomputed(sources: pd.DataFrame, settings: dict, releases: dict[str, str]) -> tuple[list[str], str]:
    files = settings.get("files") or {name: str(Path(path) / DEMO_CAPTIONS_FILE) for name, path in releases.items()}
    lookup: dict[tuple[str, str], str] = {}
    for source, path in files.items():
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"precomputed captions for {source!r}: {path} does not exist (tis.captioner.files; "
                f"only demo releases ship {DEMO_CAPTIONS_FILE}: use backend openai or transformers for real data)")
        for image_name, caption in json.loads(Path(path).read_text(encoding="utf-8")).items():
            lookup[(source, image_name)] = caption
    captions = []
    for row in sources.itertuples(index=False):
        key = (row.source, row.image_name)
        if key not in lookup:
            raise KeyError(f"no precomputed caption for image {row.image_name!r} of {row.source!r}")
        captions.append(lookup[key])
    return captions, "precomputed:" + ",".join(f"{k}={Path(v).name}" for k, v in sorted(files.items()))


def caption_images(sources: pd.DataFrame, image_dir: str | Path, settings: dict,
                   releases: dict[str, str]) -> pd.DataFrame:
    """One row per distinct image of ``sources`` (:data:`CAPTION_COLUMNS`)."""
    backend = settings.get("backend", "precomputed")
    images = sources.drop_duplicates("image")
    paths = [str(Path(image_dir) / image) for image in images["image"]]
    if backend == "precomputed":
        captions, identity = _precomputed(images, settings, releases)
    elif backend == "openai":
        client = OpenAICompatibleChat(
            model=settings["model"], base_url=settings.get("base_url", "https://api.openai.com/v1"),
            api_key_env=settings.get("api_key_env", "OPENAI_API_KEY"), temperature=0.0,
            max_tokens=int(settings.get("max_tokens", 256)), workers=int(settings.get("workers", 4)))
        chats = [[{"role": "user", "content": [image_part(path), {"type": "text", "text": CAPTION_PROMPT}]}]
                 for path in paths]
        captions, identity = client.complete_many(chats), client.identity
    elif backend == "transformers":
        local = LocalTransformersChat(settings["model"], max_new_tokens=int(settings.get("max_tokens", 256)))
        captions = local.complete_many([("", CAPTION_PROMPT, [path]) for path in paths])
        identity = local.identity
    else:
        raise ValueError(f"tis.captioner.backend must be one of {BACKENDS}, not {backend!r}")
    return pd.DataFrame({"image": images["image"].to_list(), "caption": [c.strip() for c in captions],
                         "captioner": identity}, columns=list(CAPTION_COLUMNS))
