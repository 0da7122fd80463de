"""The loopback world of the rehearsal: what the real study downloads and calls, stood in for on
127.0.0.1, built from the study's own config so that paper.yaml runs unchanged.

* the hub stand-in (tests/servers/hub_server.py) serves, under every hub id and pinned revision
  of ``models``, a tiny random model of that entry's real architecture (by its chat template:
  Qwen2.5-VL for ``qwen2_vl``, Mllama for ``mllama``); the gated repos answer only with a token;
* the data-host stand-in (tests/servers/data_host.py) serves every benchmark and training set in
  its upstream layout under its pinned URL path (files we write, as the demo generators do);
* the chat stand-in (tests/rehearsal/chat_standin.py) answers the LLM judge, the TiS captioner
  and the TiS thought writer.

``python -m tests.rehearsal.world --root DIR`` builds the world and serves it on the overlay's
ports until Ctrl-C, for running the rehearsal by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

from tests.rehearsal.chat_standin import chat_standin
from tests.servers import data_host
from tests.servers.hub_server import HubServer

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "config" / "paper.yaml"
OVERLAY = REPO / "tests" / "rehearsal" / "overlay.yaml"
#: repos the real hub gates behind a licence (Meta's Llama 3.2 community licence)
GATED = ("meta-llama/",)
TOKEN = "hf_rehearsal_token"  # the token the hub stand-in accepts for gated repos


#: what stands in for a family no tiny model of which can be built offline: Kimi-VL's
#: architecture is remote code in its hub repos (trust_remote_code), which cannot be fetched here,
#: so its repos serve a tiny Qwen2.5-VL (same processor interface; the remote-code path still runs)
FALLBACK_TEMPLATE = "qwen2_vl"


def builders() -> dict:
    """Tiny model builders by the registry's chat template (the architecture family): Qwen2.5-VL
    for ``qwen2_vl`` (the Qwen2-VL repos too: same template and processor family), Mllama for
    ``mllama``."""
    from think_in_safety.models import chat_data
    from think_in_safety.models.tiny_mllama import build_tiny_mllama
    from think_in_safety.models.zoo import build_tiny_qwen2_5_vl

    corpus = chat_data.tokenizer_corpus(60, seed=0)
    return {
        "qwen2_vl": lambda out, seed: build_tiny_qwen2_5_vl(out, seed, corpus),
        "mllama": lambda out, seed: build_tiny_mllama(out, seed, corpus),
    }


def hub_models(config: dict) -> dict[tuple[str, str], str]:
    """(repo id, revision) -> chat template, for every hub model of the registry."""
    models = {}
    for _name, model in config["models"].items():
        if str(model["weights"]).startswith("hf:"):
            models[(model["weights"][3:], model["revision"])] = model["chat_template"]
    return models


def stir(model_dir: Path, scale: float = 5.0) -> None:
    """Scale the language model's layer weights of a freshly initialised model, in place.

    At the usual init (std 0.02) a tiny model's residual stream is its input embedding, and with
    tied embeddings greedy decoding repeats the prompt's last token ("\n") for ever: every
    answer would be blank, and blank answers never reach a judge. Scaled layers make the text
    depend on the prompt, so every judge, parser and metric of the study sees real text.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 2 and ".layers." in name and "vision" not in name and "visual" not in name:
                parameter.mul_(scale)
    model.save_pretrained(model_dir)


def build_hub(root: Path, config: dict) -> list[str]:
    """Tiny models under root/<org>/<name>/<revision>/; returns the gated repo ids."""
    build = builders()
    for seed, ((repo, revision), template) in enumerate(sorted(hub_models(config).items())):
        out = root / repo / revision
        if not (out / "config.json").exists():
            build.get(template, build[FALLBACK_TEMPLATE])(out, seed)
            stir(out)
    return sorted({repo for repo, _ in hub_models(config) if repo.startswith(GATED)})


def load_config(*paths: Path) -> dict:
    """paper.yaml with the overlay merged in, as Snakemake merges config files."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in paths:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


def port_of(url: str) -> int:
    return urlparse(url).port


@contextlib.contextmanager
def serve(root: Path, paper: Path = PAPER, overlay: Path = OVERLAY):
    """Build what is missing under ``root`` and serve it on the overlay's ports."""
    config = load_config(paper, overlay)
    gated = build_hub(root / "hub", config)
    data_host.populate(root / "data", config)
    mirrors = config["mirrors"]
    hub = HubServer(root / "hub", port=port_of(mirrors["https://huggingface.co"]), gated=gated, token=TOKEN)
    data = data_host.DataHost(root / "data", port=port_of(mirrors["https://raw.githubusercontent.com"]))
    chat = chat_standin(port=port_of(config["judges"]["gpt4o"]["base_url"]))
    with hub, data, chat:
        yield {"hub": hub, "data": data, "chat": chat, "config": config, "gated": gated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder for the world's files (kept)")
    args = parser.parse_args()
    with serve(args.root) as world:
        print(f"serving; gated: {world['gated']} (token {TOKEN}); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(5)


if __name__ == "__main__":
    main()
