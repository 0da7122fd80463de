# Think in Safety: multimodal reasoning models vs their base models on five safety
# benchmarks, end to end. Stages are in workflow/rules, logic in workflow/src/think_in_safety.
import os

from snakemake.utils import min_version

from think_in_safety.config import check_config_files
from think_in_safety.workflow_files import (
    record_workflow_files,
    restore_workflow_mtimes,
)

min_version("9.0")

# envs/*.yaml install this package from ${TIS_WORKFLOW_ROOT} (pip expands it): conda runs pip
# from the env file's copy in .snakemake/conda/, where no relative path reaches the workflow.
os.environ.update(TIS_WORKFLOW_ROOT=workflow.basedir)

# Results copied into a fresh clone stay up to date: files of this checkout that are byte for
# byte those the results were made with get back the modification times recorded then.
restore_workflow_mtimes(workflow.basedir)


# The embedded default, unless --configfile names a study: a study file is then the whole
# config (Snakemake would otherwise merge its models into the default's).
# A YAML mistake in it is named with file and line (Snakemake's own message names neither; a
# --configfile is parsed by Snakemake before this file runs: `python -m think_in_safety.config FILE`).
if not workflow.overwrite_configfiles:
    check_config_files(["config/config.yaml"])

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/benchmarks.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/judge.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/tis.smk"
include: "workflow/rules/sft.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
