"""Evaluate the background check on interview-like composites of real photos.

    python -m benchmarks.eval_scene                 # both splits, prints the numbers
    python -m benchmarks.eval_scene --write benchmarks/results

What is measured (``benchmarks/scene_composites.py`` makes the frames):

* **same place?** (the ``verification scene compare`` decision): pairs of the same view of a
  room with *different* people and independent hand-held framing (zoom, shift, roll, exposure,
  JPEG) are positives; pairs of different views with the *same* person placed identically are
  the hard negatives (everything the applicant leaks past the mask would match), and all other
  cross-place pairs are easy negatives. Precision / recall at the fixed decision threshold,
  and the best precision reachable at recall >= 0.9 along the similarity curve.
* **retrieval**: each composite queried against a gallery of one composite per place plus the
  same-person distractors; the rank of the true place by the global descriptor alone and after
  geometric verification, and whether it is among the candidates the index verifies.
* **real camera motion**: the same rooms photographed from a moved camera (left01-03, LK1-2,
  fr1_desk_1-2), composited with different people.
* **continuity**: slowly drifting hand-held clips (no jump expected) and cuts between places
  (one jump expected), through the sampler and the continuity tracker.
* **scene profile**: NanoDet objects on each photo and the kinds of place they suggest.

Places: the 11 photos show 7 rooms; each room gives three views - the whole photo and its left
and right 45 % (non-overlapping, so they are distinct backgrounds even though they are one
room; whole-vs-half pairs of one room are never used). People are split: London Set ids at even
positions form the *tune* split (used only to look at the null distribution of inliers), odd
positions the *held-out* split; nothing was fitted on either - the thresholds are the
principled ones in ``verification/scene/matching.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one search = one executor worker

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.scene_composites import (  # noqa: E402
    LONDON_DIR,
    SCENE_GROUPS,
    SCENES_DIR,
    VIEWS,
    Camera,
    CutPerson,
    composite,
    cut_person,
    london_ids,
    read_rgb,
    view_of,
)
from verification.runtime import ModelRegistry  # noqa: E402
from verification.scene.continuity import ContinuityTracker, moment_of  # noqa: E402
from verification.scene.features import OrbExtractor  # noqa: E402
from verification.scene.fingerprint import BackgroundFingerprint, Fingerprinter  # noqa: E402
from verification.scene.index import IndexEntry, SceneIndex  # noqa: E402
from verification.scene.masking import ApplicantMasker  # noqa: E402
from verification.scene.matching import MIN_INLIERS  # noqa: E402
from verification.scene.profile import SceneMapping, SceneProfileBuilder, judge_fit  # noqa: E402
from verification.scene.sampling import SceneSampler  # noqa: E402

Place = tuple[str, str]  # (room, view)


@dataclass(frozen=True, eq=False)
class Shot:
    place: Place
    person: str
    image_name: str
    fingerprint: BackgroundFingerprint
    placement: tuple[float, float]


def distinct(a: Place, b: Place) -> bool | None:
    """True: different places; False: same place; None: overlapping views of one room."""
    if a == b:
        return False
    if a[0] == b[0] and "full" in (a[1], b[1]):
        return None
    return True


def all_places() -> list[Place]:
    return [(room, view) for room in SCENE_GROUPS for view in VIEWS]


class Lab:
    """Models, people and rooms loaded once; makes and fingerprints shots."""

    def __init__(self) -> None:
        registry = ModelRegistry.from_manifest(provider="cpu")
        self.cutter = registry.adapter("selfie_segmentation")  # cuts people for compositing
        self.masker = ApplicantMasker(registry.adapter("person_segmentation"))  # analysis
        self.fingerprinter = Fingerprinter(self.masker)
        self.detector = registry.adapter("scene_objects")
        self._people: dict[str, CutPerson] = {}
        self._rooms: dict[str, np.ndarray] = {}
        self.fingerprint_ms: list[float] = []

    def person(self, person_id: str, expression: str = "neutral") -> CutPerson:
        key = f"{person_id}_{expression}"
        if key not in self._people:
            portrait = read_rgb(LONDON_DIR / f"{key}.jpg")
            self._people[key] = cut_person(portrait, self.cutter, key)
        return self._people[key]

    def room(self, name: str) -> np.ndarray:
        if name not in self._rooms:
            self._rooms[name] = read_rgb(SCENES_DIR / name)
        return self._rooms[name]

    def shot(self, place: Place, person_id: str, rng: np.random.Generator,
             image_index: int = 0, placement: tuple[float, float] | None = None,
             expression: str = "neutral") -> Shot:
        files = SCENE_GROUPS[place[0]]
        image_name = files[image_index % len(files)]
        placement = placement or (float(rng.uniform(0.6, 0.9)), float(rng.uniform(0.3, 0.7)))
        frame = composite(view_of(self.room(image_name), place[1]),
                          self.person(person_id, expression), Camera.random(rng),
                          placement[0], placement[1])
        started = time.perf_counter()
        fingerprint = self.fingerprinter.from_image(frame)
        self.fingerprint_ms.append((time.perf_counter() - started) * 1000.0)
        return Shot(place, person_id, image_name, fingerprint, placement)


# ----------------------------------------------------------------------------- same place?


def make_split(lab: Lab, people: list[str], seed: int, per_place: int) -> tuple[list[Shot],
                                                                               list[Shot]]:
    """Shots of every place with different people, and a same-person twin of each shot."""
    rng = np.random.default_rng(seed)
    places = all_places()
    shots, twins = [], []
    for place in places:
        chosen = rng.choice(len(people), size=per_place, replace=False)
        for k in chosen:
            shot = lab.shot(place, people[int(k)], rng)
            shots.append(shot)
            others = [p for p in places if distinct(place, p)]
            other = others[int(rng.integers(len(others)))]
            twins.append(lab.shot(other, shot.person, rng, placement=shot.placement))
    return shots, twins


@dataclass(frozen=True)
class Scored:
    similarity: float
    same: bool
    inliers: int
    kind: str  # "positive", "hard_negative" (same person), "negative"
    label: str = ""


def score_pairs(shots: list[Shot], twins: list[Shot]) -> list[Scored]:
    out = []
    for a, b in itertools.combinations(shots, 2):
        relation = distinct(a.place, b.place)
        if relation is None or (relation is False and a.person == b.person):
            continue
        match = a.fingerprint.compare(b.fingerprint)
        kind = "positive" if relation is False else (
            "hard_negative" if a.person == b.person else "negative")
        out.append(Scored(match.similarity, match.same_place, match.inliers, kind,
                          f"{a.place[0]}/{a.place[1]}~{b.place[0]}/{b.place[1]}"))
    for a, b in zip(shots, twins, strict=True):
        match = a.fingerprint.compare(b.fingerprint)
        out.append(Scored(match.similarity, match.same_place, match.inliers, "hard_negative",
                          f"{a.place[0]}/{a.place[1]}~{b.place[0]}/{b.place[1]}"))
    return out


def _recall(positives: list[Scored]) -> float:
    return round(sum(s.same for s in positives) / len(positives), 4) if positives else 0.0


def precision_recall(scored: list[Scored]) -> dict[str, float]:
    positives = [s for s in scored if s.kind == "positive"]
    negatives = [s for s in scored if s.kind != "positive"]
    tp = sum(s.same for s in positives)
    fp = sum(s.same for s in negatives)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(positives) if positives else 0.0
    # best precision along the similarity curve among thresholds that keep recall >= 0.9
    sims = sorted({s.similarity for s in scored}, reverse=True)
    best = 0.0
    for threshold in sims:
        tp_t = sum(s.similarity >= threshold for s in positives)
        fp_t = sum(s.similarity >= threshold for s in negatives)
        if positives and tp_t / len(positives) >= 0.9:
            best = max(best, tp_t / (tp_t + fp_t))
    hard = [s for s in scored if s.kind == "hard_negative"]
    by_threshold = {}
    for threshold in (10, 12, 15, 20, 25):  # the decision as a function of the inlier threshold
        tp_t = sum(s.inliers >= threshold and s.similarity > 0 for s in positives)
        fp_t = sum(s.inliers >= threshold and s.similarity > 0 for s in negatives)
        by_threshold[threshold] = {
            "precision": round(tp_t / (tp_t + fp_t), 4) if tp_t + fp_t else 1.0,
            "recall": round(tp_t / len(positives), 4) if positives else 0.0}
    return {
        "positives": len(positives), "negatives": len(negatives), "hard_negatives": len(hard),
        "precision": round(precision, 4), "recall": round(recall, 4),
        "false_positives": fp, "hard_false_positives": sum(s.same for s in hard),
        "best_precision_at_recall_0.9": round(best, 4),
        "negative_inliers_max": max((s.inliers for s in negatives), default=0),
        "negative_inliers_p99": float(np.percentile([s.inliers for s in negatives], 99))
        if negatives else 0.0,
        "positive_inliers_p10": float(np.percentile([s.inliers for s in positives], 10))
        if positives else 0.0,
        "recall_whole_photos": _recall([s for s in positives if "/full~" in s.label]),
        "recall_half_views": _recall([s for s in positives if "/full~" not in s.label]),
        "by_inlier_threshold": by_threshold,
        "missed_positives": [f"{s.label} ({s.inliers} inliers)" for s in positives
                             if not s.same],
        "false_positive_pairs": [f"{s.label} ({s.inliers} inliers)" for s in negatives
                                 if s.same],
    }


# ----------------------------------------------------------------------------- retrieval


def retrieval(shots: list[Shot], twins: list[Shot], candidates: int = 24) -> dict[str, float]:
    """Query each shot against a gallery: one other shot per place + all same-person twins."""
    gallery: list[Shot] = []
    first_of: dict[Place, Shot] = {}
    for shot in shots:
        if shot.place not in first_of:
            first_of[shot.place] = shot
            gallery.append(shot)
    gallery.extend(twins)
    queries = [s for s in shots if first_of[s.place] is not s]
    matrix = np.stack([g.fingerprint.descriptor for g in gallery])
    global_ranks, final_ranks, in_candidates = [], [], []
    for query in queries:
        truth = np.array([g.place == query.place for g in gallery])
        cosines = matrix @ query.fingerprint.descriptor
        order = np.argsort(-cosines, kind="stable")
        global_rank = int(np.nonzero(truth[order])[0][0]) + 1
        global_ranks.append(global_rank)
        in_candidates.append(global_rank <= candidates)
        verified = []
        for position in order[:candidates]:
            match = query.fingerprint.compare(gallery[position].fingerprint)
            if match.same_place:
                verified.append((match.inliers, int(position)))
        verified.sort(reverse=True)
        ranking = [p for _, p in verified] + [int(p) for p in order
                                              if int(p) not in {q for _, q in verified}]
        final_ranks.append(int(np.nonzero(truth[ranking])[0][0]) + 1)
    g, f = np.array(global_ranks), np.array(final_ranks)
    return {"queries": len(queries), "gallery": len(gallery),
            "global_recall@1": round(float((g == 1).mean()), 4),
            "global_recall@5": round(float((g <= 5).mean()), 4),
            "global_mean_rank": round(float(g.mean()), 2),
            f"candidate_recall@{candidates}": round(float(np.mean(in_candidates)), 4),
            "verified_recall@1": round(float((f == 1).mean()), 4),
            "verified_mean_rank": round(float(f.mean()), 2),
            "verified_worst_rank": int(f.max())}


def index_roundtrip(shots: list[Shot], twins: list[Shot]) -> dict[str, float]:
    """The same retrieval through the on-disk SceneIndex (one session per gallery shot)."""
    gallery: dict[Place, Shot] = {}
    for shot in shots:
        gallery.setdefault(shot.place, shot)
    with tempfile.TemporaryDirectory() as tmp:
        index = SceneIndex.open(tmp)
        entries = [IndexEntry(f"place:{p[0]}:{p[1]}", s.fingerprint) for p, s in gallery.items()]
        entries += [IndexEntry(f"twin:{t.place[0]}:{t.place[1]}:{i}", t.fingerprint)
                    for i, t in enumerate(twins)]
        index.add(entries)
        found, wrong, latencies = 0, 0, []
        queries = [s for s in shots if gallery[s.place] is not s]
        for query in queries:
            result = index.search(query.fingerprint)
            latencies.append(result.latency_ms)
            sessions = [h.session_id for h in result.hits]
            truth = f"place:{query.place[0]}:{query.place[1]}"
            found += truth in sessions
            wrong += any(distinct(query.place, tuple(hit.split(":")[1:3])) is True
                         for hit in sessions)
        index.close()
    return {"queries": len(queries), "found": round(found / len(queries), 4),
            "wrong_place_hits": wrong, "search_ms_p50": round(float(np.median(latencies)), 1)}


# ----------------------------------------------------------------------------- real motion


def real_motion(lab: Lab, people: list[str], seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    scored = []
    for room, files in SCENE_GROUPS.items():
        if len(files) < 2:
            continue
        for view in VIEWS:
            for i, j in itertools.combinations(range(len(files)), 2):
                a, b = rng.choice(len(people), size=2, replace=False)
                sa = lab.shot((room, view), people[int(a)], rng, image_index=i)
                sb = lab.shot((room, view), people[int(b)], rng, image_index=j)
                match = sa.fingerprint.compare(sb.fingerprint)
                scored.append((f"{room}/{view} {files[i].split('/')[-1]}~"
                               f"{files[j].split('/')[-1]}", match.same_place, match.inliers))
    return {"pairs": len(scored), "recall": round(float(np.mean([s[1] for s in scored])), 4),
            "misses": [f"{name} ({inliers} inliers)" for name, same, inliers in scored
                       if not same]}


# ----------------------------------------------------------------------------- continuity


def continuity(lab: Lab, people: list[str], seed: int, fps: float = 5.0) -> dict[str, int]:
    """Drifting clips (no jump expected) and cuts between places (exactly one expected)."""
    rng = np.random.default_rng(seed)
    orb = OrbExtractor()
    places = [p for p in all_places() if p[1] != "full"]
    drift_clips = cut_clips = false_jumps = missed_cuts = extra_jumps = 0

    def run(frames: list[np.ndarray]) -> list[float]:
        sampler, tracker, abrupt = SceneSampler(), ContinuityTracker(), None
        for k, frame in enumerate(frames):
            pts = k / fps
            decision, thumb = sampler.look(frame, pts)
            if decision.abrupt and abrupt is None and k > 0:
                abrupt = pts
            if not decision.analyse:
                continue
            view = lab.masker.mask(frame)
            tracker.update(moment_of(pts, view, orb.extract(view)), abrupt)
            sampler.analysed(thumb, pts, view.background)
            abrupt = None
        return [j.at for j in tracker.jumps if j.verified]

    def clip(place: Place, person: CutPerson, start: Camera, end: Camera, n: int,
             placement: tuple[float, float]) -> list[np.ndarray]:
        room = view_of(lab.room(SCENE_GROUPS[place[0]][0]), place[1])
        frames = []
        for k in range(n):
            t = k / max(n - 1, 1)
            cam = Camera(*(float(a + (b - a) * t) for a, b in zip(
                (start.zoom, start.shift_x, start.shift_y, start.roll_deg, start.gain,
                 start.offset), (end.zoom, end.shift_x, end.shift_y, end.roll_deg, end.gain,
                                 end.offset), strict=True)), jpeg_quality=85)
            frames.append(composite(room, person, cam, *placement))
        return frames

    for place in places:
        person = lab.person(people[int(rng.integers(len(people)))])
        placement = (float(rng.uniform(0.6, 0.85)), float(rng.uniform(0.35, 0.65)))
        frames = clip(place, person, Camera.random(rng), Camera.random(rng), 15, placement)
        drift_clips += 1
        false_jumps += len(run(frames))
        others = [p for p in places if p[0] != place[0]]
        other = others[int(rng.integers(len(others)))]
        cam = Camera.random(rng)
        cut = (clip(place, person, cam, cam, 8, placement)
               + clip(other, person, cam, cam, 8, placement))
        cut_clips += 1
        jumps = run(cut)
        cut_at = 8 / fps
        hit = [j for j in jumps if abs(j - cut_at) <= 1.0 / fps + 1e-6]
        missed_cuts += not hit
        extra_jumps += len(jumps) - len(hit[:1])
    return {"drift_clips": drift_clips, "false_jumps_in_drift": false_jumps,
            "cut_clips": cut_clips, "missed_cuts": missed_cuts,
            "extra_jumps_in_cut_clips": extra_jumps}


# ----------------------------------------------------------------------------- profile


def scene_profiles(lab: Lab) -> list[dict[str, object]]:
    mapping = SceneMapping.default()
    rows = []
    for files in SCENE_GROUPS.values():
        for name in files:
            builder = SceneProfileBuilder(mapping)
            image = lab.room(name)
            detections = lab.detector.detect(image)
            labels = {d.label for d in detections if d.score >= 0.4}
            for _ in range(3):  # a still photo: the same objects in every moment
                builder.add(labels)
            profile = builder.build()
            rows.append({"image": name, "objects": sorted(labels), "present": profile.present(),
                         "as_machine_shop": judge_fit(profile, "machine shop", mapping).fit,
                         "as_restaurant": judge_fit(profile, "restaurant", mapping).fit,
                         "as_office": judge_fit(profile, "office", mapping).fit})
    return rows


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-place", type=int, default=4,
                        help="composites per place and split (different people)")
    parser.add_argument("--splits", nargs="+", default=["tune", "held_out"],
                        choices=["tune", "held_out"])
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["real_motion", "continuity", "profiles"])
    parser.add_argument("--write", type=Path, help="write scene_eval.json into this directory")
    args = parser.parse_args()

    started = time.perf_counter()
    lab = Lab()
    ids = london_ids()
    splits = {"tune": ids[0::2], "held_out": ids[1::2]}
    report: dict[str, object] = {"min_inliers": MIN_INLIERS, "places": len(all_places()),
                                 "rooms": len(SCENE_GROUPS),
                                 "photos": sum(len(f) for f in SCENE_GROUPS.values())}
    for split, seed in (("tune", 7), ("held_out", 1007)):
        if split not in args.splits:
            continue
        people = splits[split]
        shots, twins = make_split(lab, people, seed, args.per_place)
        scored = score_pairs(shots, twins)
        report[split] = {
            "people": len(people), "shots": len(shots) + len(twins),
            "same_place": precision_recall(scored),
            "retrieval": retrieval(shots, twins),
            "index": index_roundtrip(shots, twins),
        }
        print(f"\n== {split}: {len(people)} people, {len(shots) + len(twins)} composites")
        print(json.dumps(report[split], indent=2))
    if "real_motion" not in args.skip:
        report["real_camera_motion"] = real_motion(lab, splits["held_out"], 2024)
        print("\n== real camera motion (held-out people)")
        print(json.dumps(report["real_camera_motion"], indent=2))
    if "continuity" not in args.skip:
        report["continuity"] = continuity(lab, splits["held_out"], 77)
        print("\n== continuity (held-out people)")
        print(json.dumps(report["continuity"], indent=2))
    report["profiles"] = [] if "profiles" in args.skip else scene_profiles(lab)
    if report["profiles"]:
        print("\n== scene profiles (NanoDet objects, score >= 0.4)")
    for row in report["profiles"]:
        print(f"  {row['image']:<36} present={row['present']!s:<40} objects={row['objects']}")
        print(f"  {'':<36} machine shop: {row['as_machine_shop']}, restaurant: "
              f"{row['as_restaurant']}, office: {row['as_office']}")
    report["fingerprint_ms_p50"] = round(float(np.median(lab.fingerprint_ms)), 1)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(f"\nfingerprint (mask + SIFT + descriptor) p50 {report['fingerprint_ms_p50']} ms; "
          f"total {report['elapsed_s']} s")
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        (args.write / "scene_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
