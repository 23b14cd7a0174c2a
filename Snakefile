"""StepER reproduction: raw corpora -> BM25 indexes -> teacher traces -> step-wise data -> students
-> evaluation -> tables and figures. The paper tier is the default config; the demo and smoke tiers
are `--configfile config/demo.yaml` / `config/smoke.yaml`. Every rule calls `steper <stage> ...`.
"""

import copy
import sys

from snakemake.utils import min_version

min_version("9.0")

# The rules take their artifact paths from steper/layout.py, read from this checkout.
sys.path.insert(0, workflow.basedir)

from steper.config_validation import read_config_files, replace_sections, validate_config

# The paper tier is the default; `--configfile config/demo.yaml` replaces it rather than merging into it.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Snakemake has read the config files with plain YAML: re-read them strictly (a repeated key, an
# alias bomb), let the last file that lists models (students) replace them, then validate the
# merged config with the validator every stage's --settings gets.
replace_sections(config, read_config_files(workflow.configfiles))
# What the config files and --config set, before the schema's defaults fill the rest in.
CONFIG_SET = copy.deepcopy(config)
validate_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/retrieval.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/stepwise.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        PAPER_OUTPUTS,
        ARTIFACTS,
