"""Dynamic liveness challenges: actions, random sequences with random timing, and their verifier.

* :mod:`.actions`: the six actions and how each shows in the face signals;
* :mod:`.generator`: server-side random sequences and timings (seedable for tests);
* :mod:`.verifier`: did each action happen inside its window, with reaction-time bounds;
* :mod:`.cue`: the verifier as a face cue reading the session's prompt script.
"""

from verification.face.challenges.actions import ALL_ACTIONS, Action, FaceSignals
from verification.face.challenges.generator import (
    ChallengeGenerator,
    ChallengePrompt,
    ChallengeTiming,
)
from verification.face.challenges.verifier import ChallengeResult, verify_prompt, verify_sequence

__all__ = ["ALL_ACTIONS", "Action", "ChallengeGenerator", "ChallengePrompt", "ChallengeResult",
           "ChallengeTiming", "FaceSignals", "verify_prompt", "verify_sequence"]
