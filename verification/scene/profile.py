"""What kind of place is behind the applicant, and does it fit the declared business?

Why objects and not a scene classifier: no scene network (Places365 or similar) ships in a
package registry; NanoDet's 80 COCO classes are what we can see. Each class votes for the kinds
of place it is typical of (a bed for a bedroom, an oven for a kitchen, a truck for a yard), with
a weight saying how telling it is (a chair is weak evidence of an office; a keyboard is strong).
A vote counts by *persistence* - the share of analysed moments the object was seen on the
background - so one spurious detection does not make a bedroom.

The mapping from declared business types to expected and conflicting kinds of place is data
(:data:`DEFAULT_MAPPING`), replaceable per deployment with a TOML or JSON file
(``VERIFICATION_SCENE_MAPPING``). Its verdict is advisory by design: a bedroom behind a declared
machine shop is a *reason for review* (the owner may be interviewed at home in the evening),
never a rejection by itself - the evidence code is not a hard gate in the fusion policy.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verification.errors import InvalidInputError
from verification.scene.objects import COCO_LABELS

# kind of place -> {COCO label: how telling the label is for that kind (0..1)}
DEFAULT_PLACE_KINDS: dict[str, dict[str, float]] = {
    "office": {"laptop": 0.8, "tv": 0.5, "keyboard": 1.0, "mouse": 1.0, "chair": 0.3,
               "book": 0.3, "clock": 0.2},
    "bedroom": {"bed": 1.0, "teddy bear": 0.3, "hair drier": 0.3},
    "living_room": {"couch": 1.0, "tv": 0.5, "remote": 0.6, "potted plant": 0.2, "vase": 0.3},
    "kitchen_restaurant": {"oven": 1.0, "refrigerator": 1.0, "microwave": 0.8, "toaster": 0.8,
                           "sink": 0.6, "dining table": 0.6, "bottle": 0.4, "wine glass": 0.6,
                           "cup": 0.3, "bowl": 0.4, "fork": 0.5, "knife": 0.5, "spoon": 0.5,
                           "pizza": 0.6, "sandwich": 0.5, "cake": 0.4, "donut": 0.5},
    "bathroom": {"toilet": 1.0, "toothbrush": 0.8, "sink": 0.4},
    "vehicles_outdoor": {"car": 1.0, "truck": 1.0, "bus": 1.0, "motorcycle": 0.8,
                         "bicycle": 0.5, "traffic light": 0.8, "stop sign": 0.8,
                         "parking meter": 0.8, "fire hydrant": 0.6, "bench": 0.3},
    "shop_retail": {"bottle": 0.3, "handbag": 0.5, "suitcase": 0.4, "backpack": 0.3,
                    "umbrella": 0.3, "book": 0.2, "vase": 0.3},
}

# declared business type -> which kinds of place fit it and which contradict it
DEFAULT_BUSINESS_TYPES: dict[str, dict[str, Any]] = {
    "office": {"aliases": ["office", "consulting", "accounting", "agency", "it services",
                           "software", "travel agency", "real estate", "law firm", "insurance"],
               "expected": ["office"], "conflicting": ["bedroom", "bathroom"]},
    "restaurant": {"aliases": ["restaurant", "cafe", "coffee shop", "bakery", "food stall",
                               "catering", "bar", "noodle shop", "snack bar", "tea shop"],
                   "expected": ["kitchen_restaurant"], "conflicting": ["bedroom", "bathroom"]},
    "retail": {"aliases": ["retail", "shop", "store", "grocery", "convenience store",
                           "supermarket", "boutique", "clothing store", "pharmacy"],
               "expected": ["shop_retail", "kitchen_restaurant"],
               "conflicting": ["bedroom", "bathroom"]},
    "machine_shop": {"aliases": ["machine shop", "workshop", "factory", "manufacturing",
                                 "metalwork", "welding", "carpentry", "repair shop"],
                     "expected": ["vehicles_outdoor"],
                     "conflicting": ["bedroom", "living_room", "bathroom"]},
    "auto_repair": {"aliases": ["auto repair", "garage", "car repair", "car wash",
                                "mechanic", "tire shop"],
                    "expected": ["vehicles_outdoor"],
                    "conflicting": ["bedroom", "living_room", "bathroom"]},
    "transport": {"aliases": ["transport", "logistics", "trucking", "delivery", "taxi",
                              "freight", "courier"],
                  "expected": ["vehicles_outdoor"], "conflicting": ["bedroom", "bathroom"]},
    "home_based": {"aliases": ["home based", "home business", "online shop", "e-commerce",
                               "freelance", "tutoring"],
                   "expected": ["office", "living_room"], "conflicting": []},
}

# A kind of place is "present" when its weighted persistence reaches this value: one telling
# object (weight 1) seen in at least 60 % of the analysed moments, or several weaker ones -
# and when at least one *characteristic* object of it (weight >= ANCHOR_WEIGHT) was seen in at
# least half of the moments: cups, plants and a screen add weight, they never make a kitchen,
# a living room or an office on their own.
PRESENT_SCORE = 0.6
ANCHOR_WEIGHT = 0.8
ANCHOR_PERSISTENCE = 0.5
MIN_SAMPLES = 3


@dataclass(frozen=True)
class BusinessType:
    name: str
    aliases: tuple[str, ...]
    expected: tuple[str, ...]
    conflicting: tuple[str, ...]


@dataclass(frozen=True)
class SceneMapping:
    """Kinds of place (COCO label weights) and business types (expected / conflicting kinds)."""

    place_kinds: Mapping[str, Mapping[str, float]]
    business_types: tuple[BusinessType, ...]

    def __post_init__(self) -> None:
        labels = set(COCO_LABELS)
        for kind, weights in self.place_kinds.items():
            unknown = sorted(set(weights) - labels)
            if unknown:
                raise InvalidInputError(f"scene mapping: place kind {kind!r} uses labels that "
                                        f"are not COCO classes: {', '.join(unknown)}")
        for business in self.business_types:
            unknown = sorted(set(business.expected + business.conflicting)
                             - set(self.place_kinds))
            if unknown:
                raise InvalidInputError(f"scene mapping: business type {business.name!r} names "
                                        f"unknown place kinds: {', '.join(unknown)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceneMapping:
        try:
            kinds = {str(k): {str(label): float(w) for label, w in v.items()}
                     for k, v in data["place_kinds"].items()}
            types = tuple(
                BusinessType(name=str(name),
                             aliases=tuple(_normalise(a) for a in [name, *spec.get("aliases", [])]),
                             expected=tuple(spec.get("expected", [])),
                             conflicting=tuple(spec.get("conflicting", [])))
                for name, spec in data["business_types"].items())
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InvalidInputError(
                f"scene mapping: expected 'place_kinds' and 'business_types' tables ({err})"
            ) from None
        return cls(kinds, types)

    @classmethod
    def default(cls) -> SceneMapping:
        return cls.from_dict({"place_kinds": DEFAULT_PLACE_KINDS,
                              "business_types": DEFAULT_BUSINESS_TYPES})

    @classmethod
    def load(cls, path: str | Path) -> SceneMapping:
        """A TOML or JSON file with the same two tables as the defaults."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise InvalidInputError(f"scene mapping {path}: cannot read ({err.strerror})") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
            raise InvalidInputError(f"scene mapping {path}: not valid "
                                    f"{'JSON' if path.suffix == '.json' else 'TOML'} ({err})"
                                    ) from None
        return cls.from_dict(data)

    def business(self, declared: str) -> BusinessType | None:
        wanted = _normalise(declared)
        for business in self.business_types:
            if wanted in business.aliases:
                return business
        return None


def _normalise(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(text).strip().lower())


@dataclass
class SceneProfileBuilder:
    """Accumulates background objects over the analysed moments of one interview."""

    mapping: SceneMapping
    samples: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # label -> moments it was seen in

    def add(self, labels: set[str]) -> None:
        self.samples += 1
        for label in labels:
            self.seen[label] = self.seen.get(label, 0) + 1

    def persistence(self) -> dict[str, float]:
        if self.samples == 0:
            return {}
        return {label: count / self.samples for label, count in self.seen.items()}

    def build(self) -> SceneProfile:
        persistence = self.persistence()
        scores: dict[str, float] = {}
        because: dict[str, list[str]] = {}
        anchored: set[str] = set()
        for kind, weights in self.mapping.place_kinds.items():
            parts = [(weights[label] * share, label, share)
                     for label, share in persistence.items() if label in weights]
            score = sum(p[0] for p in parts)
            if score > 0:
                scores[kind] = round(score, 3)
                because[kind] = [f"{label} in {share:.0%} of moments"
                                 for _, label, share in sorted(parts, reverse=True)]
            if any(weights[label] >= ANCHOR_WEIGHT and share >= ANCHOR_PERSISTENCE
                   for _, label, share in parts):
                anchored.add(kind)
        return SceneProfile(samples=self.samples,
                            objects={k: round(v, 3) for k, v in sorted(persistence.items())},
                            kind_scores=dict(sorted(scores.items(), key=lambda kv: -kv[1])),
                            because=because, anchored=frozenset(anchored))


@dataclass(frozen=True)
class SceneProfile:
    samples: int
    objects: Mapping[str, float]  # COCO label -> share of moments it was seen on the background
    kind_scores: Mapping[str, float]  # kind of place -> weighted persistence, best first
    because: Mapping[str, list[str]]
    anchored: frozenset[str] = frozenset()  # kinds with a characteristic object seen

    def present(self) -> list[str]:
        return [kind for kind, score in self.kind_scores.items()
                if score >= PRESENT_SCORE and kind in self.anchored]


@dataclass(frozen=True)
class BusinessFit:
    """``fit``: "fits", "conflicts", or "unknown" (nothing telling either way)."""

    fit: str
    declared: str | None
    business: str | None
    reasons: tuple[str, ...]
    profile: SceneProfile

    def details(self) -> dict[str, Any]:
        return {"fit": self.fit, "declared_type": self.declared, "business_type": self.business,
                "reasons": list(self.reasons), "samples": self.profile.samples,
                "objects": dict(self.profile.objects),
                "place_kinds": dict(self.profile.kind_scores),
                "present": self.profile.present()}


def judge_fit(profile: SceneProfile, declared: str | None, mapping: SceneMapping) -> BusinessFit:
    """Compare the scene profile with the declared business type, with reasons in words."""
    present = profile.present()
    seen = "; ".join(f"{kind} ({', '.join(profile.because[kind][:3])})" for kind in present)
    if not declared:
        return BusinessFit("unknown", None, None,
                           ("no business type was declared",) + ((f"looks like: {seen}",)
                                                                if seen else ()), profile)
    business = mapping.business(declared)
    if business is None:
        return BusinessFit("unknown", declared, None,
                           (f"declared type {declared!r} is not in the scene mapping",), profile)
    if profile.samples < MIN_SAMPLES:
        return BusinessFit("unknown", declared, business.name,
                           (f"only {profile.samples} moments analysed",), profile)
    conflicts = [k for k in present if k in business.conflicting]
    fits = [k for k in present if k in business.expected]
    if conflicts and not fits:
        reasons = tuple(f"{kind}: {', '.join(profile.because[kind][:3])}" for kind in conflicts)
        return BusinessFit("conflicts", declared, business.name,
                           (f"the background looks like a {' / '.join(conflicts)}, not what a "
                            f"declared {declared!r} usually shows",) + reasons, profile)
    if fits:
        reasons = tuple(f"{kind}: {', '.join(profile.because[kind][:3])}" for kind in fits)
        extra = ((f"also seen: {', '.join(conflicts)}",) if conflicts else ())
        return BusinessFit("fits", declared, business.name,
                           (f"the background fits a declared {declared!r}",) + reasons + extra,
                           profile)
    return BusinessFit("unknown", declared, business.name,
                       ("no object telling of the declared business or against it "
                        "was seen" + (f" (looks like: {seen})" if seen else ""),), profile)
