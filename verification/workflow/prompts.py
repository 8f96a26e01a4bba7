"""A fixed prompt sequence for the interview until the interview-flow issue brings the script
engine: each step is shown to the applicant for a set time, in Chinese and English.

The steps are chosen so the live checks get what they need: a frontal face (presence, match),
head motion and blinks (liveness), and read/free speech (voice activity, voiceprint).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptStep:
    id: str
    zh: str
    en: str
    seconds: float
    kind: str  # "look" | "action" | "speak"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": {"zh-CN": self.zh, "en": self.en},
                "seconds": self.seconds, "kind": self.kind}


DEFAULT_PROMPTS: tuple[PromptStep, ...] = (
    PromptStep("face_in_oval", "请正对镜头，把脸放在椭圆框内", "Face the camera and keep your face "
               "inside the oval", 5, "look"),
    PromptStep("turn_head", "请慢慢向左转头，再转回正面", "Slowly turn your head to the left, then "
               "back to the front", 5, "action"),
    PromptStep("read_sentence", "请朗读：我申请这笔贷款用于店铺经营", "Please read aloud: I am "
               "applying for this loan to run my shop", 8, "speak"),
    PromptStep("state_name", "请说出您的姓名和店铺名称",
               "Please say your full name and the name of your shop", 8, "speak"),
    PromptStep("blink", "请眨眼两次", "Please blink twice", 4, "action"),
)


@dataclass(frozen=True)
class PromptPosition:
    index: int  # -1 before the first prompt; len(steps) when all are done
    step: PromptStep | None
    done: bool


class PromptSequencer:
    """Which prompt is current after ``elapsed`` seconds of live media (pure, no timers)."""

    def __init__(self, steps: tuple[PromptStep, ...] = DEFAULT_PROMPTS) -> None:
        if not steps:
            raise ValueError("a prompt sequence needs at least one step")
        self.steps = steps

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def position(self, elapsed: float) -> PromptPosition:
        t = 0.0
        for index, step in enumerate(self.steps):
            t += step.seconds
            if elapsed < t:
                return PromptPosition(index, step, False)
        return PromptPosition(len(self.steps), None, True)
