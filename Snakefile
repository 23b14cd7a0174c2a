"""StepER reproduction: raw corpora -> BM25 indexes -> teacher traces -> step-wise data -> students
-> evaluation -> tables and figures. config/config.yaml (the paper tier) is the base of every run;
the demo and smoke tiers are overlays of it, `--configfile config/demo.yaml` / `config/smoke.yaml`.
Every rule calls `steper <stage> ...`; what to run is computed by steper/plan/.
"""

import sys

from snakemake.utils import min_version

min_version("9.0")

# The rules take their plan and artifact paths from the steper package of this checkout.
sys.path.insert(0, workflow.basedir)

from steper.config_validation import validate_config
from steper.plan.tiers import stated_config, tier_config

# The paper config with each `--configfile` laid over it in order, then `--config` (steper/plan/tiers.py),
# every file read strictly (a repeated key, an alias bomb), validated with the validator every stage's
# --settings gets. CONFIG_SET is what the tier states, before the schema's defaults fill the rest in.
CONFIG_SET = stated_config(workflow.basedir, workflow.overwrite_configfiles, workflow.config_settings.config)
config.clear()
config.update(tier_config(workflow.basedir, workflow.overwrite_configfiles, workflow.config_settings.config))
validate_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/retrieval.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/stepwise.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        paper_plan.outputs(plan),
        paper_plan.artifacts(plan),
