"""demo-full is assembled in parts (docs/reproducing.md): its teacher's traces, made once by part 1,
are committed with the overlay config/demo-full-imports.yaml, and every later part imports them.
These tests check that what a later part needs is intact: each committed trace has the sha256 the
overlay pins, and the overlay covers every trace demo-full makes, so no later part runs the teacher."""

import hashlib
from pathlib import Path

import pytest
import yaml

from steper.config_validation import validate_config
from steper.plan.plan import Plan
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent
OVERLAY = ROOT / "config" / "demo-full-imports.yaml"


@pytest.fixture(scope="module")
def imports() -> list[dict]:
    return yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))["teacher"]["imports"]


@pytest.mark.parametrize("index", range(6))
def test_each_committed_trace_has_the_pinned_sha256(imports, index):
    entry = imports[index]
    path = ROOT / entry["path"]
    assert path.is_file(), f"{OVERLAY}: {entry['path']} is not committed"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{entry['path']} differs from the trace part 1 made"


def test_the_overlay_imports_every_trace_demo_full_makes(imports):
    config = tier_config(ROOT, [ROOT / "config" / "demo-full.yaml", OVERLAY])
    validate_config(config)
    plan = Plan(config, basedir=ROOT)
    assert len(imports) == 6 and len(plan.imported) == len(plan.traced) == 6
    assert not plan.unused_imports
