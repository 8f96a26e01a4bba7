"""Interview scripts and products load from YAML and are validated completely at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from verification.workflow.products import ProductCatalog
from verification.workflow.script import ScriptError, parse_script

DATA = Path(__file__).resolve().parents[1] / "data" / "workflow"


def _script(**step_overrides) -> dict:  # noqa: ANN003
    step = {"id": "consent", "kind": "confirmation", "timeout_s": 10,
            "prompt": {"zh-CN": "请确认", "en": "Please confirm"}}
    step.update(step_overrides)
    return {"name": "t", "version": 1, "steps": [
        step, {"id": "done", "kind": "done", "prompt": {"zh-CN": "已提交"}}]}


def test_builtin_products_and_an_extra_directory():
    catalog = ProductCatalog.load(DATA)
    assert {"default", "express", "quick"} <= set(catalog.names())
    default = catalog.get("default")
    assert default.script.label == "default@2" and default.policy.version == "default-1"
    assert default.script.budget.max_failures == 5 and default.script.budget.window_s == 180
    for product in catalog.names():
        for step in catalog.get(product).script.steps:  # every prompt in both languages
            assert step.prompt.get("zh-CN") and step.prompt.get("en"), (product, step.id)


@pytest.mark.parametrize("change, message", [
    ({"kind": "dance"}, "kind"),
    ({"prompt": {"en": "only English"}}, "zh-CN"),
    ({"prompt": {"zh-CN": "x", "fr": "y"}}, "unknown locale"),
    ({"timeout_s": -1}, "timeout_s"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"id": "not an id"}, "id"),
    ({"kind": "liveness", "params": {"count": [2, 9]}}, "count"),
    ({"kind": "liveness", "params": {"actions": ["fly"]}}, "actions"),
    ({"kind": "questions", "params": {"pool": []}}, "pool"),
    ({"kind": "digits", "params": {"count": [3, 6]}}, "count"),
])
def test_bad_scripts_fail_with_the_field_named(change, message):
    with pytest.raises(ScriptError, match=message):
        parse_script(_script(**change), "test.yaml")


def test_the_last_step_must_be_done():
    raw = _script()
    raw["steps"] = raw["steps"][:1]
    with pytest.raises(ScriptError, match="done"):
        parse_script(raw, "test.yaml")


def test_a_broken_products_file_names_itself(tmp_path: Path):
    (tmp_path / "products.yaml").write_text("products:\n  p:\n    script: nope\n")
    with pytest.raises(ScriptError, match="products.p.script"):
        ProductCatalog.load(tmp_path)
    (tmp_path / "products.yaml").write_text("products: [unclosed\n")
    with pytest.raises(ScriptError, match="not valid YAML"):
        ProductCatalog.load(tmp_path)
