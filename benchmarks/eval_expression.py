"""Expression and micro-expression cues: accuracy, false cues, recall, cost. Prints its numbers.

    .venv/bin/python -m benchmarks.eval_expression [--part expression|baseline|spotting|cost|all]
        [--people N] [--seconds S] [--flow-preset medium|fast] [--fps F] [--fit] [--ablations]
        [--json OUT]

**Expression** (London set, 69 people x neutral / smiling, ethnicity from ``info.csv``): each
portrait goes through the live code path (face tracker -> blendshapes, fer on the aligned crop,
face-api on its landmark-framed crop, :mod:`verification.expression.smile`). Reported per
ethnicity: fer alone and face-api alone (top class ``happy``), the blendshapes alone (mean
``mouthSmile`` >= 0.5), the shipped fusion (its four constants were fitted on these portraits,
so this is in-sample), the fusion before face-api was added (blendshapes + fer), the fusion with
each CNN on one view (no mirror averaging), and the shipped fusion **cross-validated
leave-one-person-out** (the honest number: each person scored by a fit without them).
``--fit`` prints the constants fitted on all portraits (what ``smile.py`` ships); ``--ablations``
scores the variants that were measured and not shipped (:mod:`benchmarks.expression_ablations`).
Also the paired check "with the person's own neutral as baseline": is the smiling portrait's
fused log-odds above the neutral one's?

**Baseline** (the interview situation, :func:`evaluate_with_baseline`): per person a short video
of their neutral portrait (the baseline) then their smiling one, with small head motion, noise
and JPEG; neutral vs smiling per frame relative to their own neutral frames, and the timeline's
"more smiling than at baseline" rule per stretch.

**Spotting**:

* GRID talking clips (6 x 3 s, audio through the cue's VAD): spotted events per minute of
  speech and per minute of silence, and - as an ablation - how many would be spotted if speech
  were not excluded;
* synthetic clips (``benchmarks/expression_synthetic.py``): for each of ``--people`` London
  people (round-robin over ethnic groups) a ``--seconds`` clip of the neutral portrait with small
  natural motion and silent audio, with micro-expressions toward the same person's smile
  inserted at intensities 0.1 - 1.0 (150-400 ms, random order and times). Recall per intensity
  and per apex mouth-corner displacement in pixels; false events per minute on the still time
  (more than 0.4 s away from any inserted event).

**Cost**: CPU time (one thread: onnxruntime and OpenCV are held to one thread here, so a busy
machine does not inflate it) of the expression cue per analysed frame (fer and face-api crops
and their mirrors + rigid chip + two DIS flows + bookkeeping), of the face stage it rides on,
and per 90-s interview at 25 fps; wall times are printed too.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.expression_ablations import ablation_features, evaluate_ablations
from verification.expression.cue import ExpressionCueConfig
from verification.expression.offline import ExpressionSession
from verification.expression.reading import ExpressionModels, mouth_smile, read_expression
from verification.expression.spotting import spot_events
from verification.expression.timeline import ACTION_NAMES, MIN_ACTION_DIFFERENCE, action_values
from verification.face.expression import LABELS, fer_crop
from verification.face.expression_faceapi import faceapi_crop
from verification.face.observation import FaceTracker
from verification.runtime import ModelRegistry, ThreadBudget

MEDIA = Path("/work/shared/media")
LONDON = MEDIA / "faces" / "london"
GRID = MEDIA / "face_video" / "grid"
INTENSITIES = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
SMILING = ACTION_NAMES.index("smiling")
MATCH_SLACK_S = 0.15
STILL_MARGIN_S = 0.4


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def ethnicities() -> dict[str, str]:
    with (LONDON / "info.csv").open() as f:
        return {row["face_id"]: row["face_eth"] for row in csv.DictReader(f)}


# -- expression -----------------------------------------------------------------------------
def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (bias not penalised), optionally
    with per-sample weights."""
    design = np.c_[x, np.ones(len(x))]
    sw = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.zeros(design.shape[1])
    penalty = np.diag([l2] * x.shape[1] + [0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ w))
        hess = design.T @ (design * (sw * p * (1 - p))[:, None]) + penalty
        grad = design.T @ (sw * (p - y)) + penalty @ w
        w -= np.linalg.solve(hess, grad)
    return w


def leave_one_person_out(rows: list[dict], features: np.ndarray, y: np.ndarray,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Each portrait's fused log-odds from a fit without its person (no identity in both)."""
    persons = np.array([r["person"] for r in rows])
    out = np.zeros(len(rows))
    for person in np.unique(persons):
        test = persons == person
        w = fit_logistic(features[~test], y[~test],
                         weights=None if weights is None else weights[~test])
        out[test] = np.c_[features[test], np.ones(test.sum())] @ w
    return out


def score_quality(log_odds: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Log-loss (a proper scoring rule: less noisy than a count of right answers) and AUC."""
    p = np.clip(1 / (1 + np.exp(-log_odds)), 1e-6, 1 - 1e-6)
    pos, neg = log_odds[y > 0.5], log_odds[y <= 0.5]
    auc = float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {"log_loss": round(loss, 4), "auc": round(auc, 4)}


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (small groups: 14 West-Asian portraits)."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def london_readings(registry: ModelRegistry, ablations: bool = False) -> list[dict]:
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    models = ExpressionModels.from_registry(registry)
    eth = ethnicities()
    rows = []
    for path in sorted(LONDON.glob("*.jpg")):
        person, kind = path.stem.split("_")
        image = read_rgb(path)
        tracker.reset()
        tracker.observe(image, 0.0)
        obs = tracker.observe(image, 0.04)  # second pass from the landmark ROI, as in video
        reading = read_expression(models, image, obs)
        if reading is None:
            print(f"  no face in {path.name}")
            continue
        single = models.fer.classify(fer_crop(image, obs.geometry.five_points))
        single_faceapi = models.faceapi.classify_many([faceapi_crop(image, obs.landmarks)])[0]
        rows.append({"person": person, "smiling": kind == "smiling",
                     "group": eth.get(person, "unknown"),
                     "fer": reading.fer, "fer_single_view": np.array(single.probabilities),
                     "faceapi": reading.faceapi,
                     "faceapi_single_view": np.array(single_faceapi.probabilities),
                     "mouth_smile": mouth_smile(reading.blendshapes), "fused": reading.smile,
                     "z": reading.smile_log_odds})
        if ablations:
            rows[-1]["ablation"] = ablation_features(models, tracker, image, obs)
    return rows


def _by_group(rows: list[dict], correct: np.ndarray) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, ok in zip(rows, correct, strict=True):
        out[row["group"]][0] += int(ok)
        out[row["group"]][1] += 1
        out["all"][0] += int(ok)
        out["all"][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def evaluate_expression(registry: ModelRegistry, fit: bool, ablations: bool = False) -> dict:
    rows = london_readings(registry, ablations)
    y = np.array([r["smiling"] for r in rows], float)
    happy = LABELS.index("happy")

    def column(key: str) -> np.ndarray:
        return np.array([r[key][happy] for r in rows])

    smile_bs = np.array([r["mouth_smile"] for r in rows])
    features = np.c_[_logit(smile_bs), _logit(column("fer")), _logit(column("faceapi"))]
    methods = {
        "fer alone (top class happy)": np.array([int(np.argmax(r["fer"])) == happy
                                                 for r in rows]),
        "face-api alone (top class happy)": np.array([int(np.argmax(r["faceapi"])) == happy
                                                      for r in rows]),
        "blendshapes alone (mouthSmile >= 0.5)": smile_bs >= 0.5,
        "fusion, shipped constants (in-sample)": np.array([r["fused"] >= 0.5 for r in rows]),
    }
    persons = sorted({r["person"] for r in rows})
    cv_previous = leave_one_person_out(rows, features[:, :2], y)
    cv_single = leave_one_person_out(rows, np.c_[_logit(smile_bs), _logit(column(
        "fer_single_view")), _logit(column("faceapi_single_view"))], y)
    cv_log_odds = leave_one_person_out(rows, features, y)
    methods["before face-api: blendshapes + fer, leave-one-person-out"] = cv_previous > 0
    methods["fusion, CNNs single view, leave-one-person-out"] = cv_single > 0
    methods["fusion, leave-one-person-out"] = cv_log_odds > 0
    report: dict = {"images": len(rows), "methods": {}}
    groups = sorted({r["group"] for r in rows})
    print(f"\n== Expression: neutral vs smiling, London set ({len(rows)} portraits) ==")
    print(f"{'method':56s} {'all':>13s} " + " ".join(f"{g:>14s}" for g in groups))
    for name, pred in methods.items():
        stats = _by_group(rows, pred == (y > 0.5))
        report["methods"][name] = {g: {"correct": c, "n": n, "accuracy": round(c / n, 4)}
                                   for g, (c, n) in stats.items()}
        cells = " ".join(f"{stats[g][0]:>3d}/{stats[g][1]:<3d}{stats[g][0] / stats[g][1]:6.1%}"
                         for g in groups)
        c, n = stats["all"]
        print(f"{name:56s} {c:>3d}/{n:<3d}{c / n:6.1%} {cells}")
    cv_stats = _by_group(rows, (cv_log_odds > 0) == (y > 0.5))
    intervals = {g: wilson(*cv_stats[g]) for g in ["all"] + groups}
    report["wilson_95_leave_one_person_out"] = {g: [round(lo, 3), round(hi, 3)]
                                                for g, (lo, hi) in intervals.items()}
    print("leave-one-person-out fusion, 95 % Wilson intervals: " + ", ".join(
        f"{g} [{lo:.0%}, {hi:.0%}]" for g, (lo, hi) in intervals.items()))
    report["scores_leave_one_person_out"] = {}
    for name, z in (("blendshapes + fer (before face-api)", cv_previous),
                    ("CNNs single view", cv_single),
                    ("CNNs mirror-averaged (shipped)", cv_log_odds)):
        quality = score_quality(z, y)
        report["scores_leave_one_person_out"][name] = quality
        print(f"  fusion with {name}: leave-one-person-out log-loss {quality['log_loss']:.4f}, "
              f"AUC {quality['auc']:.4f}")
    # paired: the person's own neutral portrait as the baseline
    odds = {(r["person"], r["smiling"]): r["z"] for r in rows}
    paired = [odds[(p, True)] > odds[(p, False)] for p in persons
              if (p, True) in odds and (p, False) in odds]
    report["paired_with_own_neutral"] = {"correct": int(sum(paired)), "n": len(paired)}
    print(f"paired with the person's own neutral portrait as baseline: "
          f"{sum(paired)}/{len(paired)} smiling portraits score above their neutral one")
    if ablations:
        report["ablations"] = evaluate_ablations(rows, y, _logit, leave_one_person_out,
                                                 score_quality)
    if fit:
        w = fit_logistic(features, y)
        print(f"fitted on all portraits: W_BLENDSHAPE = {w[0]:.4f}, W_FER = {w[1]:.4f}, "
              f"W_FACEAPI = {w[2]:.4f}, BIAS = {w[3]:.4f}")
        report["fit"] = [round(float(v), 4) for v in w]
    return report


@dataclass(frozen=True, eq=False)
class HeldImage:
    """A stand-in for the synthetic renderer that shows one portrait whatever the intensity:
    the person holding that expression, with the clip's natural motion, noise and JPEG."""

    image: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return (self.image.shape[1], self.image.shape[0])

    def frame(self, intensity: float) -> np.ndarray:  # noqa: ARG002 - held whatever the level
        return self.image


def evaluate_with_baseline(registry: ModelRegistry, seed: int = 11) -> dict:
    """The interview situation: the person's own neutral frames are the baseline.

    Per person, one video: 1.0 s of the neutral portrait (the baseline), 0.6 s more of it (5
    neutral test frames), then 0.6 s of the smiling portrait (5 smiling test frames), all with
    the synthetic clips' small head motion, sensor noise and JPEG, through the live tracker and
    expression reading. Scored per test frame: the portrait-only decision (fused log-odds > 0)
    and the decision relative to the baseline, ``z - median(z_baseline)``, turned into a
    probability by a one-feature logistic fit leave-one-person-out. Scored per test stretch
    (the 15 neutral and the 15 smiling frames): the timeline's own rule, unchanged (does the
    answer's mean ``smiling`` action exceed the baseline's by ``MIN_ACTION_DIFFERENCE`` and two
    baseline standard deviations?).
    """
    from benchmarks.expression_synthetic import MotionConfig, make_pair, render_clip

    print("\n== Neutral vs smiling against the person's own neutral frames (interview) ==")
    detector, mesh = registry.adapter("face_detector"), registry.adapter("face_mesh")
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    models = ExpressionModels.from_registry(registry)
    eth = ethnicities()
    motion = MotionConfig()
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    stretches: list[dict] = []
    for person in sorted(eth):
        paths = [LONDON / f"{person}_{kind}.jpg" for kind in ("neutral", "smiling")]
        if not all(p.exists() for p in paths):
            continue
        pair = make_pair(read_rgb(paths[0]), read_rgb(paths[1]), detector, mesh)
        tracker.reset()
        baseline: list[float] = []
        tests: list[tuple[bool, float]] = []
        smile_action: dict[str, list[float]] = {"baseline": [], "neutral": [], "smiling": []}
        clips = ((pair.neutral, 1.6, False), (pair.smiling, 0.6, True))
        offset = 0.0
        for image, seconds, smiling in clips:
            frames = render_clip(HeldImage(image), seconds, (), motion,
                                 seed=int(rng.integers(1 << 30)))
            for index, (t, frame) in enumerate(frames):
                obs = tracker.observe(frame, offset + t)
                reading = read_expression(models, frame, obs)
                if reading is None:
                    continue
                z = reading.smile_log_odds
                phase = "smiling" if smiling else "baseline" if offset + t < 1.0 else "neutral"
                smile_action[phase].append(float(action_values(reading.blendshapes)[SMILING]))
                if phase == "baseline":
                    baseline.append(z)
                elif index % 3 == 0:
                    tests.append((smiling, z))
            offset += seconds
        if not baseline:
            print(f"  no face in {person}'s baseline frames")
            continue
        reference = float(np.median(baseline))
        for smiling, z in tests:
            rows.append({"person": person, "group": eth[person], "smiling": smiling, "z": z,
                         "relative": z - reference})
        base_mean = float(np.mean(smile_action["baseline"]))
        spread = max(float(np.std(smile_action["baseline"])), 0.02)
        for phase in ("neutral", "smiling"):
            diff = float(np.mean(smile_action[phase])) - base_mean
            called = diff >= MIN_ACTION_DIFFERENCE and diff >= 2.0 * spread
            stretches.append({"person": person, "group": eth[person],
                              "smiling": phase == "smiling", "called": called})
    y = np.array([r["smiling"] for r in rows], float)
    relative = leave_one_person_out(rows, np.array([[r["relative"]] for r in rows]), y)
    absolute = np.array([r["z"] for r in rows])
    groups = sorted({r["group"] for r in rows})
    report: dict = {"frames": len(rows), "people": len({r["person"] for r in rows})}
    for name, z in (("portrait only (fused log-odds > 0)", absolute),
                    ("relative to own neutral, leave-one-person-out", relative)):
        stats = _by_group(rows, (z > 0) == (y > 0.5))
        report[name] = {g: {"correct": c, "n": n, "accuracy": round(c / n, 4)}
                        for g, (c, n) in stats.items()}
        cells = " ".join(f"{g} {stats[g][0]}/{stats[g][1]} {stats[g][0] / stats[g][1]:.1%}"
                         for g in groups)
        c, n = stats["all"]
        print(f"  {name:46s} {c}/{n} {c / n:.1%}; {cells}")
    rule = np.array([r["called"] == r["smiling"] for r in stretches])
    stats = _by_group(stretches, rule)
    name = "timeline rule: 'more smiling than at baseline'"
    report[name] = {g: {"correct": c, "n": n, "accuracy": round(c / n, 4)}
                    for g, (c, n) in stats.items()}
    cells = " ".join(f"{g} {stats[g][0]}/{stats[g][1]}" for g in groups)
    c, n = stats["all"]
    print(f"  {name:46s} {c}/{n} stretches {c / n:.1%}; {cells}")
    w = fit_logistic(np.array([[r["relative"]] for r in rows]), y)
    report["relative_fit"] = [round(float(v), 4) for v in w]
    print(f"  fitted on all frames: P(smiling | baseline) = sigmoid({w[0]:.3f} * "
          f"(z - median z_baseline) + {w[1]:.3f})")
    return report


# -- spotting -------------------------------------------------------------------------------
def evaluate_grid(registry: ModelRegistry, config: ExpressionCueConfig,
                  fps: float | None) -> dict:
    print("\n== Spotting on GRID talking clips (speech must not read as micro-expressions) ==")
    speech_s = silent_s = 0.0
    events_speech = events_silent = ablation = 0
    costs = []
    for path in sorted(GRID.glob("*.mpg")):
        from verification.types import AudioChunk, VideoFrame
        from verification.video.decode import iter_media

        session = ExpressionSession(registry, None, config)
        last = 0.0
        for item in iter_media(path, video_fps=fps):
            if isinstance(item, VideoFrame):
                session.feed_frame(item.image, item.pts, item.index)
                last = item.pts
            elif isinstance(item, AudioChunk):
                session.feed_audio(item.samples, item.pts)
        timeline = session.timeline()
        speech = session.cue.speech()
        duration = last + (1.0 / fps if fps else 0.04)
        talk = sum(min(b, duration) - max(a, 0.0) for a, b in speech if b > 0)
        speech_s += talk
        silent_s += duration - talk
        for item in timeline.events:
            inside = any(a <= item.event.apex <= b for a, b in speech)
            events_speech += inside
            events_silent += not inside
        no_speech = spot_events(list(session.cue.samples()), [], config.spotting)
        ablation += len(no_speech.events)
        costs.append(session.cost)
        print(f"  {path.name}: speech {talk:.2f} s of {duration:.2f} s, "
              f"{len(timeline.events)} events {[round(e.event.apex, 2) for e in timeline.events]}"
              f"; without speech exclusion {len(no_speech.events)}")
    total = events_speech + events_silent
    minutes = (speech_s + silent_s) / 60
    print(f"GRID: {total} events in {minutes * 60:.1f} s ({total / minutes:.2f} per minute); "
          f"during speech {events_speech} in {speech_s:.1f} s, silent {events_silent} in "
          f"{silent_s:.1f} s; without speech exclusion: {ablation} "
          f"({ablation / minutes:.1f} per minute)")
    return {"events": total, "seconds": round(speech_s + silent_s, 2),
            "events_per_minute": round(total / minutes, 3),
            "speech_seconds": round(speech_s, 2), "events_in_speech": events_speech,
            "silent_seconds": round(silent_s, 2), "events_in_silence": events_silent,
            "without_speech_exclusion": ablation, "cost": [c.__dict__ for c in costs]}


def choose_people(count: int) -> list[str]:
    eth = ethnicities()
    groups: dict[str, list[str]] = defaultdict(list)
    for person in sorted(eth):
        if all((LONDON / f"{person}_{kind}.jpg").exists() for kind in ("neutral", "smiling")):
            groups[eth[person]].append(person)
    order = sorted(groups, key=lambda g: -len(groups[g]))
    chosen: list[str] = []
    while len(chosen) < count and any(groups.values()):
        for g in order:
            if groups[g] and len(chosen) < count:
                chosen.append(groups[g].pop(0))
    return chosen


def schedule(rng: np.random.Generator, seconds: float):  # noqa: ANN201
    from benchmarks.expression_synthetic import InsertedEvent

    intensities = list(INTENSITIES)
    rng.shuffle(intensities)
    slot = (seconds - 2.0) / len(intensities)
    events = []
    for i, level in enumerate(intensities):
        duration = float(rng.uniform(0.15, 0.40))
        start = 1.5 + i * slot + float(rng.uniform(0.0, max(0.0, slot - duration - 0.9)))
        events.append(InsertedEvent(start, duration, float(level)))
    return events


def evaluate_synthetic(registry: ModelRegistry, config: ExpressionCueConfig, people: int,
                       seconds: float, fps: float | None, seed: int = 7) -> dict:
    from benchmarks.expression_synthetic import (
        ExpressionRenderer,
        MotionConfig,
        make_pair,
        render_clip,
    )

    print(f"\n== Spotting on synthetic micro-expressions ({people} people x {seconds:.0f} s) ==")
    detector, mesh = registry.adapter("face_detector"), registry.adapter("face_mesh")
    eth = ethnicities()
    rng = np.random.default_rng(seed)
    motion = MotionConfig(fps=fps or 25.0)
    results = []
    still_s = 0.0
    false_events = 0
    costs = []
    for person in choose_people(people):
        pair = make_pair(read_rgb(LONDON / f"{person}_neutral.jpg"),
                         read_rgb(LONDON / f"{person}_smiling.jpg"), detector, mesh)
        renderer = ExpressionRenderer(pair)
        events = schedule(rng, seconds)
        session = ExpressionSession(registry, None, config)
        step = 1.0 / motion.fps
        silence = np.zeros(int(round(16000 * step)), np.float32)
        for index, (t, frame) in enumerate(render_clip(renderer, seconds, events, motion,
                                                       seed=int(rng.integers(1 << 30)))):
            session.feed_audio(silence, t)
            session.feed_frame(frame, t, index)
        spotted = [e.event for e in session.timeline().events]
        costs.append(session.cost)
        used = set()
        for ev in events:
            hit = [i for i, s in enumerate(spotted)
                   if ev.start - MATCH_SLACK_S <= s.apex <= ev.start + ev.duration + MATCH_SLACK_S]
            used.update(hit)
            shift_px = pair.mouth_corner_shift(ev.intensity) * pair.inter_ocular_px
            results.append({"person": person, "group": eth.get(person), "intensity": ev.intensity,
                            "duration": round(ev.duration, 3), "shift_px": round(shift_px, 2),
                            "detected": bool(hit),
                            "kind": spotted[hit[0]].kind if hit else None})
        busy = sum(ev.duration + 2 * STILL_MARGIN_S for ev in events)
        still_s += seconds - busy
        extra = [s for i, s in enumerate(spotted) if i not in used and not any(
            ev.start - STILL_MARGIN_S <= s.apex <= ev.start + ev.duration + STILL_MARGIN_S
            for ev in events)]
        false_events += len(extra)
        hits = sum(r["detected"] for r in results[-len(events):])
        print(f"  {person} ({eth.get(person)}): {hits}/{len(events)} detected, "
              f"{len(extra)} false {[round(s.apex, 2) for s in extra]}")
    print("recall by intensity (share of the person's own full smile):")
    curve = {}
    for level in INTENSITIES:
        sel = [r for r in results if r["intensity"] == level]
        rec = sum(r["detected"] for r in sel) / len(sel)
        shift = np.median([r["shift_px"] for r in sel])
        curve[str(level)] = {"recall": round(rec, 4), "n": len(sel),
                             "median_mouth_corner_shift_px": round(float(shift), 2)}
        print(f"  {level:4.2f}: {rec:6.1%} of {len(sel):3d}  (median mouth-corner shift "
              f"{shift:.1f} px)")
    print("recall by apex mouth-corner displacement:")
    bins = [(0, 1), (1, 2), (2, 4), (4, 8), (8, math.inf)]
    by_shift = {}
    for lo, hi in bins:
        sel = [r for r in results if lo <= r["shift_px"] < hi]
        if not sel:
            continue
        rec = sum(r["detected"] for r in sel) / len(sel)
        by_shift[f"{lo}-{hi}px"] = {"recall": round(rec, 4), "n": len(sel)}
        print(f"  {lo}-{hi} px: {rec:6.1%} of {len(sel)}")
    visible = [r for r in results if r["shift_px"] >= 2.0]
    rec_visible = sum(r["detected"] for r in visible) / max(len(visible), 1)
    per_min = false_events / (still_s / 60) if still_s > 0 else float("nan")
    print(f"visible (mouth corners move >= 2 px): recall {rec_visible:.1%} of {len(visible)}")
    print(f"still stretches: {false_events} false events in {still_s:.0f} s "
          f"({per_min:.2f} per minute)")
    return {"people": people, "seconds": seconds, "events": results, "curve": curve,
            "by_shift": by_shift, "recall_visible_2px": round(rec_visible, 4),
            "still_seconds": round(still_s, 1), "false_events": false_events,
            "false_per_minute": round(per_min, 3), "cost": [c.__dict__ for c in costs]}


def report_cost(costs: list[dict]) -> dict:
    if not costs:
        return {}
    frames = sum(c["frames"] for c in costs)

    def mean(key: str) -> float:
        return sum(c[key] * c["frames"] for c in costs) / frames

    expr, face = mean("expression_ms"), mean("face_stage_ms")
    expr_cpu, face_cpu = mean("expression_cpu_ms"), mean("face_stage_cpu_ms")
    print(f"\n== Cost ({frames} frames, one thread) ==\n"
          f"expression cue: {expr_cpu:.1f} ms CPU per analysed frame ({expr:.1f} ms wall on this "
          f"machine at the time); the face stage it rides on: {face_cpu:.1f} ms CPU "
          f"({face:.1f} ms wall)\nper 90-s interview at 25 fps (2,250 frames): "
          f"{expr_cpu * 2.25:.1f} s CPU for the expression cue; at 12 fps {expr_cpu * 1.08:.1f} s")
    return {"frames": frames, "expression_cpu_ms_per_frame": round(expr_cpu, 2),
            "expression_wall_ms_per_frame": round(expr, 2),
            "face_stage_cpu_ms_per_frame": round(face_cpu, 2),
            "face_stage_wall_ms_per_frame": round(face, 2),
            "expression_cpu_s_per_90s_interview_25fps": round(expr_cpu * 2.25, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["expression", "baseline", "spotting", "cost", "all"],
                        default="all")
    parser.add_argument("--people", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--flow-preset", default="medium", choices=["medium", "fast",
                                                                     "ultrafast"])
    parser.add_argument("--fps", type=float, default=None,
                        help="analysed frames per second (default: every frame, 25)")
    parser.add_argument("--fit", action="store_true", help="print the fusion constants")
    parser.add_argument("--ablations", action="store_true",
                        help="also score the smile-decision variants that were not shipped")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(1)  # one thread, so CPU time per frame is the whole cost
    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    config = ExpressionCueConfig(flow_preset=args.flow_preset)
    report: dict = {"flow_preset": args.flow_preset, "fps": args.fps}
    started = time.time()
    if args.part in ("expression", "all"):
        report["expression"] = evaluate_expression(registry, args.fit, args.ablations)
    if args.part in ("baseline", "all"):
        report["expression_with_baseline"] = evaluate_with_baseline(registry)
    costs: list[dict] = []
    if args.part in ("spotting", "cost", "all"):
        report["grid"] = evaluate_grid(registry, config, args.fps)
        costs += report["grid"]["cost"]
    if args.part in ("spotting", "all"):
        report["synthetic"] = evaluate_synthetic(registry, config, args.people, args.seconds,
                                                 args.fps)
        costs += report["synthetic"]["cost"]
    report["cost"] = report_cost(costs)
    print(f"\n(evaluation took {time.time() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
