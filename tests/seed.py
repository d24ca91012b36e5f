"""The seed documentation's request bodies, loaded from fixtures/seed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEED_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "seed"


def body(name: str, **values: str) -> Any:
    text = (SEED_DIR / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text)
