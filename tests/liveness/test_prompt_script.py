"""The prompt-script format that ``verification analyze --script`` reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verification.errors import InvalidInputError
from verification.prompt_script import PromptScript


def test_a_list_of_steps_is_parsed_in_time_order() -> None:
    script = PromptScript.from_json([
        {"type": "blink", "t": 9.0},
        {"type": "turn_left", "t": 3.0, "window": 4.0},
        {"type": "challenge", "action": "smile", "t": 6},
        {"type": "digits", "t": 12.5, "digits": "40719"},
    ])
    assert [s.type for s in script.steps] == ["turn_left", "smile", "blink", "digits"]
    assert script.steps[0].get("window") == 4.0
    assert script.of_type("digits")[0].get("digits") == "40719"
    assert PromptScript.from_json({"steps": script.to_json()}) == script
    assert len(PromptScript.from_json({})) == 0


@pytest.mark.parametrize("value", [
    "turn_left", [{"t": 1.0}], [{"type": "nod"}], [{"type": "nod", "t": -1}],
    [{"type": "nod", "t": "soon"}], [{"type": "challenge", "t": 2.0}], {"prompts": []}, [3],
])
def test_malformed_scripts_are_one_clear_error(value: object) -> None:
    with pytest.raises(InvalidInputError):
        PromptScript.from_json(value)


def test_cli_rejects_a_malformed_script_before_loading_models(tmp_path: Path) -> None:
    clip = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"
    bad = tmp_path / "script.json"
    bad.write_text(json.dumps([{"type": "nod"}]))
    run = subprocess.run([sys.executable, "-m", "verification", "analyze", str(clip),
                          "--script", str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert run.stderr.strip().startswith("error:") and "script step 0" in run.stderr
    assert "Traceback" not in run.stderr
