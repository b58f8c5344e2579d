# SkeletonSteering: KIT clips -> trajectory -> AMP+PPO training per seed -> eval, video -> report.
# Wiring only; the stages live in workflow/rules/, every rule calls `skeleton-steering`.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
