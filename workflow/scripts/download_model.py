"""Rule download_model: one hub repository at its pinned commit, then its manifest."""
from think_in_safety.hub import download_snapshot, hub_endpoint, registry_users
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    # the config's mirror of https://huggingface.co, else HF_ENDPOINT, else the hub itself; read
    # here rather than as a param so that changing a mirror does not redo finished downloads
    endpoint = hub_endpoint(snakemake.config.get("mirrors"))
    manifest = download_snapshot(
        snakemake.params.repo,
        snakemake.wildcards.revision,
        snakemake.params.local_dir,
        snakemake.output.manifest,
        endpoint=endpoint,
        max_workers=max(4, 4 * snakemake.threads),
        log=log,
        # the config keys naming this download, for the error messages (not a param: a param
        # change would redo finished downloads)
        used_by=registry_users(
            snakemake.config, snakemake.params.repo, snakemake.wildcards.revision
        ),
    )
    log.info(
        "%s@%s: %d files, %.2f GB from %s",
        manifest["repo"],
        manifest["revision"],
        len(manifest["files"]),
        manifest["total_bytes"] / 1e9,
        endpoint,
    )
