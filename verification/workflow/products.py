"""Loan products: each names its interview script and its fusion policy.

Why per product: a top-up loan for a known customer may skip the location step and treat the
background as advisory, while a first loan needs every check. The catalog is read once at
start from ``scripts/products.yaml`` (and the same layout in ``VERIFICATION_WORKFLOW_DIR``,
whose files add products or replace built-in ones) and validated completely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verification.errors import VerificationError
from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.protect.retention import RetentionPolicy, RetentionRule
from verification.types import Check
from verification.workflow.script import (
    BUILTIN_DIR,
    Script,
    ScriptError,
    load_script,
    read_document,
)

PRODUCTS_FILE = "products.yaml"


class UnknownProductError(VerificationError):
    code = "loan_product_unknown"


@dataclass(frozen=True)
class Product:
    name: str
    script: Script
    policy: PolicyConfig
    retention: RetentionRule = field(default_factory=RetentionRule)

    def fusion(self) -> DefaultPolicy:
        return DefaultPolicy(self.policy)


def _checks(raw: Any, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, list):
        raise ScriptError(f"{where}: expected a list of checks")
    known = {c.value for c in Check}
    bad = [c for c in raw if c not in known]
    if bad:
        raise ScriptError(f"{where}: unknown checks {bad} (known: {sorted(known)})")
    return tuple(Check(c) for c in raw)


def parse_policy(raw: Any, where: str) -> PolicyConfig:
    if not isinstance(raw, Mapping):
        raise ScriptError(f"{where}: expected a mapping")
    base = PolicyConfig()
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise ScriptError(f"{where}.version: every policy needs a version string")
    codes = raw.get("hard_gate_codes")
    hard = frozenset(codes) if isinstance(codes, list) else base.hard_gate_codes
    extra = raw.get("extra_hard_gate_codes", [])
    if codes is not None and not isinstance(codes, list) or not isinstance(extra, list):
        raise ScriptError(f"{where}: hard gate codes must be lists of strings")
    share = raw.get("support_share", base.support_share)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ScriptError(f"{where}.support_share: expected a number in (0, 1]")
    return PolicyConfig(
        version=version,
        required=_checks(raw.get("required", [c.value for c in base.required]),
                         f"{where}.required"),
        advisory=_checks(raw.get("advisory", [c.value for c in base.advisory]),
                         f"{where}.advisory"),
        hard_gate_codes=hard | frozenset(str(c) for c in extra),
        support_share=float(share))


def parse_retention(raw: Any, where: str) -> RetentionRule:
    """A product's ``retention:`` block; omitted: the defaults (media 90 days, templates 365)."""
    if raw is None:
        return RetentionRule()
    try:
        return RetentionRule.from_mapping(raw, where)
    except VerificationError as err:
        raise ScriptError(str(err)) from None


class ProductCatalog:
    def __init__(self, products: Mapping[str, Product]) -> None:
        if not products:
            raise ScriptError("no loan products are configured")
        self._products = dict(products)

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> ProductCatalog:
        dirs = [BUILTIN_DIR] + ([Path(extra_dir)] if extra_dir else [])
        scripts: dict[str, Script] = {}
        product_specs: dict[str, Any] = {}
        for directory in dirs:
            if not directory.is_dir():
                raise ScriptError(f"{directory}: workflow directory does not exist")
            for path in sorted(directory.glob("*.y*ml")) + sorted(directory.glob("*.json")):
                if path.stem == "products":
                    raw = read_document(path)
                    if not isinstance(raw, Mapping) or not isinstance(raw.get("products"),
                                                                      Mapping):
                        raise ScriptError(f"{path}: expected 'products:' mapping")
                    for name, spec in raw["products"].items():
                        product_specs[str(name)] = (spec, path)
                else:
                    script = load_script(path)
                    scripts[script.name] = script
        products = {}
        for name, (spec, path) in product_specs.items():
            where = f"{path}: products.{name}"
            if not isinstance(spec, Mapping) or spec.get("script") not in scripts:
                raise ScriptError(f"{where}.script: expected one of {sorted(scripts)}")
            products[name] = Product(name, scripts[spec["script"]],
                                     parse_policy(spec.get("policy"), f"{where}.policy"),
                                     parse_retention(spec.get("retention"), f"{where}.retention"))
        return cls(products)

    def get(self, name: str) -> Product:
        try:
            return self._products[name]
        except KeyError:
            raise UnknownProductError(
                f"unknown loan product {name!r} (configured: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        return sorted(self._products)

    def retention_policy(self) -> RetentionPolicy:
        """What the scheduled purge applies: each product's rule; sessions without a product
        (operator-made interviews) get the defaults."""
        return RetentionPolicy(RetentionRule(),
                               {name: p.retention for name, p in self._products.items()})
