"""Hub weights as data: one Hugging Face model repository at a pinned commit, copied into the project.

A registry entry ``weights: hf:<org>/<name>`` with ``revision: <40-hex commit>`` is fetched once,
by the ``download_model`` rule, with :func:`huggingface_hub.snapshot_download` into

    resources/hub/<org>/<name>/<revision>/                (the local copy every job loads)
    resources/hub/<org>/<name>/<revision>.manifest.json   (the rule's output, written last)

The local copy is deliberately not a Snakemake ``directory()`` output: Snakemake deletes those
before a job starts, and an interrupted download must resume. ``snapshot_download`` skips every
file it already finished (its metadata under ``<local copy>/.cache/huggingface``) and resumes a
transfer cut mid-file with an HTTP Range request. After the download every file is checked
against the hub's checksums (sha256 of LFS files, git blob id of the others;
:meth:`huggingface_hub.HfApi.verify_repo_checksums`), and only then is the manifest written: the
repository, the commit, each file with its size and the checksums the hub gives, and a digest of
that list (the report's provenance cites it).

Jobs that load the weights read the local copy, a plain directory, so they never reach the hub:
they are offline by construction, without setting ``HF_HUB_OFFLINE`` behind the user's back.

Endpoint (:func:`hub_endpoint`): the config's ``mirrors`` entry for ``https://huggingface.co``
when there is one, else ``HF_ENDPOINT``, else https://huggingface.co. Token: ``HF_TOKEN`` (else
the token huggingface_hub stores after ``hf auth login``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

HUB_ROOT = "resources/hub"
DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_PREFIX = "hf:"
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
PIN_HINT = (
    "pin a commit: the 40-hex id of a commit on the model page's 'Files and versions' tab "
    "(History), or `hf models info {repo} --expand sha`"
)

_LOG = logging.getLogger(__name__)


class HubDownloadError(RuntimeError):
    """A hub model could not be fetched; the message names the model, the cause and the fix."""


# ------------------------------------------------------------------------------------------------
# names and places
# ------------------------------------------------------------------------------------------------
def is_hub_id(weights: object) -> bool:
    """True for ``hf:<org>/<name>`` (weights that come from the Hugging Face hub)."""
    return isinstance(weights, str) and weights.startswith(HUB_PREFIX)


def hub_repo(weights: str) -> str:
    """``hf:<org>/<name>`` -> ``<org>/<name>``; ValueError naming the expected form otherwise."""
    repo = weights[len(HUB_PREFIX):] if is_hub_id(weights) else weights
    if not REPO_PATTERN.match(repo):
        raise ValueError(f"'{weights}' is not a hub model id: write hf:<org>/<name>, "
                         "e.g. hf:Qwen/Qwen2.5-VL-7B-Instruct")
    return repo


def check_revision(repo: str, revision: object) -> str:
    """``revision`` if it is a full commit hash; ValueError naming the model and the fix."""
    if not isinstance(revision, str) or not COMMIT_PATTERN.match(revision):
        raise ValueError(f"{repo}: revision {revision!r} is not a 40-hex commit hash; {PIN_HINT.format(repo=repo)}")
    return revision


def snapshot_dir(repo: str, revision: str, root: str | Path = HUB_ROOT) -> str:
    """The local copy of ``repo`` at ``revision``: ``<root>/<org>/<name>/<revision>``."""
    return f"{root}/{hub_repo(repo)}/{check_revision(repo, revision)}"


def manifest_path(repo: str, revision: str, root: str | Path = HUB_ROOT) -> str:
    """The manifest of that copy (the download_model rule's output), next to it."""
    return f"{snapshot_dir(repo, revision, root)}.manifest.json"


def registry_users(config: Mapping, repo: str, revision: str) -> list[str]:
    """The config keys that name ``hf:<repo>`` at ``revision`` (``models.<m>.weights``,
    ``judges.<j>.model``, ``tis.<stage>.model``), for messages about that download."""
    weights = f"{HUB_PREFIX}{repo}"
    found = [f"models.{name}.weights" for name, entry in (config.get("models") or {}).items()
             if entry.get("weights") == weights and entry.get("revision") == revision]
    found += [f"judges.{name}.model" for name, entry in (config.get("judges") or {}).items()
              if entry.get("model") == weights and entry.get("revision") == revision]
    found += [f"tis.{stage}.model" for stage, entry in (config.get("tis") or {}).items()
              if isinstance(entry, Mapping) and entry.get("model") == weights and entry.get("revision") == revision]
    return found


class WeightsNotFoundError(FileNotFoundError):
    """A model's weights are not where the registry says; the message names the key and the fix."""


def check_weights_folder(location: str | Path, key: str) -> None:
    """Raise :class:`WeightsNotFoundError` unless ``location`` (where a job loads ``key``'s weights
    from) is a folder. A hub id written without ``hf:`` is named as such: loaded as a path it
    would otherwise fail deep inside transformers, offline, with "couldn't connect"."""
    path = Path(location)
    if path.is_dir():
        return
    where = f"{key} is '{location}', which is not a folder on this machine (looked for {path.resolve()})"
    if REPO_PATTERN.match(str(location)) and not path.exists():
        raise WeightsNotFoundError(
            f"{where}. If '{location}' is a Hugging Face model id, write it as weights: hf:{location} with "
            f"revision: <commit> ({PIN_HINT.format(repo=location)}): download_model then fetches it once into "
            f"{HUB_ROOT}/{location}/<commit>. A local model is the path of its folder.")
    raise WeightsNotFoundError(
        f"{where}: set {key} to the folder holding the model's config.json and weights (on the machine the "
        "job runs on), or to hf:<org>/<name> with a revision to download it.")


def licence_page(repo: str) -> str:
    """Where a gated model's licence is accepted (always the public hub, whatever the endpoint)."""
    return f"{DEFAULT_ENDPOINT}/{repo}"


def hub_endpoint(mirrors: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The hub endpoint downloads use: the ``mirrors`` entry for https://huggingface.co, else
    ``HF_ENDPOINT``, else https://huggingface.co (no trailing slash)."""
    environ = os.environ if environ is None else environ
    mirrors = mirrors or {}
    mirrored = mirrors.get(DEFAULT_ENDPOINT) or mirrors.get(DEFAULT_ENDPOINT + "/")
    return str(mirrored or environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


# ------------------------------------------------------------------------------------------------
# the manifest
# ------------------------------------------------------------------------------------------------
def manifest_digest(repo: str, revision: str, files: list[dict]) -> str:
    """sha256 of the repository, the commit and every file's path, size and checksums."""
    canonical = json.dumps({"repo": repo, "revision": revision, "files": files}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_manifest(path: str | Path) -> dict:
    """A manifest written by :func:`download_snapshot`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _file_entries(tree) -> list[dict]:
    """Path, size and the hub's checksums of every file of a ``list_repo_tree`` listing."""
    from huggingface_hub.hf_api import RepoFile

    files = []
    for entry in tree:
        if isinstance(entry, RepoFile):
            files.append({
                "path": entry.path,
                "size": int(entry.size),
                "sha256": entry.lfs.sha256 if entry.lfs is not None else None,
                "git_oid": entry.blob_id,
            })
    return sorted(files, key=lambda f: f["path"])


def _write_json_atomically(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


# ------------------------------------------------------------------------------------------------
# errors, each with the model and the fix
# ------------------------------------------------------------------------------------------------
def _explain(error: BaseException, repo: str, revision: str, endpoint: str, token: str | None,
             used_by: tuple[str, ...] = ()) -> HubDownloadError | None:
    """A :class:`HubDownloadError` for a huggingface_hub/httpx failure, or None if unknown.
    ``used_by``: the config keys naming this download (:func:`registry_users`), named in the fix."""
    import httpx
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = licence_page(repo)
    keys = " and ".join(used_by) or "weights"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, GatedRepoError):
        if not token:
            return HubDownloadError(
                f"{repo} is a gated model: its files need the token of a Hugging Face account that accepted "
                f"its licence, and no token was sent. Accept the licence at {page}, then "
                f"export HF_TOKEN=<a read token of that account, https://huggingface.co/settings/tokens> and rerun.")
        return HubDownloadError(
            f"{repo} is a gated model and the hub refused the token sent (HF_TOKEN, else your `hf auth login`; HTTP "
            f"{error.response.status_code}: that account has no access yet). Accept the licence at {page} with "
            f"the account the token belongs to, wait until access is granted, then export HF_TOKEN=... and rerun.")
    if isinstance(error, RevisionNotFoundError):
        revision_keys = " and ".join(key.rsplit(".", 1)[0] + ".revision" for key in used_by) or "the entry's revision"
        return HubDownloadError(
            f"revision {revision} of {repo} was not found on {endpoint}: it is not a commit of that repository. "
            f"Pin a commit listed at {page}/commits/main in {revision_keys} "
            f"(`hf models info {repo} --expand sha` prints the newest).")
    if isinstance(error, RepositoryNotFoundError) or (
            isinstance(error, HfHubHTTPError) and status == 404 and not isinstance(error, RemoteEntryNotFoundError)):
        # a mirror may answer a missing repository with a bare 404 (no X-Error-Code)
        hint = "" if token else " If it is private, export HF_TOKEN=<a token with access>."
        return HubDownloadError(
            f"model repository {repo} was not found on {endpoint} (asked for revision {revision}): check {keys} "
            f"(hf:{repo}: org/name, as on {page}).{hint}")
    if isinstance(error, HfHubHTTPError) and error.response is not None and error.response.status_code == 401:
        return HubDownloadError(
            f"the hub at {endpoint} refused the credentials sent for {repo} (HTTP 401: {error}). "
            "Check HF_TOKEN (a valid read token from https://huggingface.co/settings/tokens), or unset it.")
    if isinstance(error, OfflineModeIsEnabled) or (
            isinstance(error, LocalEntryNotFoundError) and "outgoing traffic has been disabled" in str(error)):
        return HubDownloadError(
            f"cannot download {repo}@{revision}: HF_HUB_OFFLINE is set in this job's environment. "
            "Unset it for download_model (it runs on the machine where the workflow starts), then rerun.")
    if isinstance(error, RemoteEntryNotFoundError):
        return HubDownloadError(f"{repo}@{revision}: a file listed by {endpoint} could not be fetched ({error}); rerun "
                                "download_model (finished files are kept).")
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError)):
        return HubDownloadError(
            f"the transfer of {repo}@{revision} from {endpoint} kept breaking off ({type(error).__name__}: {error}), "
            "after huggingface_hub's own resumed retries. Finished files are kept: rerun download_model to resume.")
    if isinstance(error, (httpx.TransportError, LocalEntryNotFoundError, ConnectionError, TimeoutError)):
        return HubDownloadError(
            f"cannot reach the Hugging Face hub at {endpoint} to download {repo}@{revision} "
            f"({type(error).__name__}: {error}). Check this machine's network (download_model is a local rule: it runs "
            "where Snakemake starts, e.g. a login node), HF_ENDPOINT, or the config's mirrors entry for "
            "https://huggingface.co; finished files are kept, so a rerun resumes.")
    if isinstance(error, HfHubHTTPError):
        return HubDownloadError(f"the hub at {endpoint} answered an error for {repo}@{revision}: {error}")
    return None


def _call(action, repo: str, revision: str, endpoint: str, token: str | None, used_by: tuple[str, ...] = ()):
    """Run ``action()``, turning hub and network failures into :class:`HubDownloadError`."""
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - re-raised below when not a hub/network failure
        explained = _explain(error, repo, revision, endpoint, token, used_by)
        if explained is None:
            raise
        raise explained from error


# ------------------------------------------------------------------------------------------------
# the download
# ------------------------------------------------------------------------------------------------
def download_snapshot(repo: str, revision: str, local_dir: str | Path, manifest: str | Path, *,
                      endpoint: str | None = None, token: str | None = None, max_workers: int = 8,
                      log: logging.Logger | None = None, used_by: tuple[str, ...] | list[str] = ()) -> dict:
    """Fetch ``repo`` at commit ``revision`` into ``local_dir``, check it, write ``manifest`` last.

    ``endpoint``: the hub to ask (default :func:`hub_endpoint`); ``token``: default ``HF_TOKEN``
    (else huggingface_hub's stored login); ``used_by``: the config keys that name this download
    (:func:`registry_users`), which the errors tell you to check. Files finished by an earlier,
    interrupted run are not fetched again. Returns the manifest. Raises :class:`HubDownloadError`
    naming the model and the fix: gated model without (or with a refused) token, unknown
    repository or revision, unreachable endpoint, checksum mismatch.
    """
    from huggingface_hub import HfApi, __version__, get_token, hf_hub_download, snapshot_download

    log = log or _LOG
    repo = hub_repo(repo)
    try:
        revision = check_revision(repo, revision)
    except ValueError as error:
        raise HubDownloadError(str(error)) from None
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    token = token if token is not None else (os.environ.get("HF_TOKEN", "").strip() or None)
    sent = token or get_token()  # what huggingface_hub sends: ours, else its stored login
    local_dir, manifest = Path(local_dir), Path(manifest)
    api = HfApi(endpoint=endpoint, token=token)

    def call(action):
        return _call(action, repo, revision, endpoint, sent, tuple(used_by))

    def verify():
        return api.verify_repo_checksums(repo, revision=revision, local_dir=local_dir)

    def failing(result) -> list[str]:
        return sorted({m["path"] for m in result.mismatches} | set(result.missing_paths))

    log.info("listing %s@%s on %s", repo, revision, endpoint)
    files = call(lambda: _file_entries(api.list_repo_tree(repo, revision=revision, recursive=True)))
    log.info("%d files, %.1f MB; downloading into %s", len(files), sum(f["size"] for f in files) / 1e6, local_dir)
    local_dir.mkdir(parents=True, exist_ok=True)
    call(lambda: snapshot_download(repo, revision=revision, local_dir=local_dir, endpoint=endpoint, token=token,
                                   max_workers=max_workers))
    result = call(verify)
    if failing(result):  # a corrupted or vanished file: fetch it once more from scratch, then check again
        log.warning("%s@%s: files failing the checksum or missing, fetching them again: %s",
                    repo, revision, failing(result))
        for path in failing(result):
            call(lambda path=path: hf_hub_download(repo, path, revision=revision, local_dir=local_dir,
                                                   endpoint=endpoint, token=token, force_download=True))
        result = call(verify)
        if failing(result):
            raise HubDownloadError(
                f"{repo}@{revision}: {failing(result)} still differ from the checksums {endpoint} lists after a "
                f"fresh download: the endpoint serves files that do not match its listing. Delete {local_dir} and "
                "rerun, or use another endpoint.")
    log.info("%s@%s: %d files match the hub's checksums", repo, revision, result.checked_count)

    data = {
        "repo": repo,
        "revision": revision,
        "endpoint": endpoint,
        "local_dir": str(local_dir),
        "files": files,
        "total_bytes": sum(f["size"] for f in files),
        "digest": manifest_digest(repo, revision, files),
        "downloaded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "huggingface_hub": __version__,
    }
    _write_json_atomically(data, manifest)
    log.info("manifest %s (digest %s)", manifest, data["digest"][:16])
    return data
