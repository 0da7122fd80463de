# Think in Safety: multimodal reasoning models vs their base models on five safety
# benchmarks, end to end. Stages are in workflow/rules, logic in workflow/src/think_in_safety.
import os

from snakemake.utils import min_version

min_version("9.0")

# envs/*.yaml install this package from ${TIS_WORKFLOW_ROOT} (pip expands it): conda runs pip
# from the env file's copy in .snakemake/conda/, where no relative path reaches the workflow.
os.environ.update(TIS_WORKFLOW_ROOT=workflow.basedir)


# The embedded default, unless --configfile names a study: a study file is then the whole
# config (Snakemake would otherwise merge its models into the default's).
if not workflow.overwrite_configfiles:

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
