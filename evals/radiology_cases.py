"""The radiology eval set: held-out phantoms (findings and seed) paired with real IU reports.

Each case names the phantom's findings and its seed, so the image is redrawn identically on any
machine (`tools.radiology.phantoms.make_phantom`), and the real report of the IU test split that
the phantom stands for (the text metrics' reference). A case is valid only if the labeller reads
exactly the phantom's conditions in its report, as the training pairs are.

    .venv/bin/python -m evals.radiology_cases build   # rewrite evals/data/radiology_phantoms.jsonl
    .venv/bin/python -m evals.datasets refresh        # then bump its manifest entry
"""

from __future__ import annotations

import json
import sys

from pydantic import BaseModel, ConfigDict, model_validator

from app.settings import Settings
from evals.datasets import DATA_DIR
from tools.radiology.dataset import PoolConfig, RadiologyCorpus, draw_pairs
from tools.radiology.pairing import PhantomPair, report_conditions
from tools.radiology.phantom_spec import PhantomSpec

FILE = DATA_DIR / "radiology_phantoms.jsonl"
CASES = 16
"""Cases in the set: the first 16 test-split draws of seed 0 (`PoolConfig`), ~35 s on CPU."""


class PhantomCase(BaseModel):
    """One held-out phantom and the real report it is paired with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    findings: str  # PhantomSpec syntax: "cardiomegaly,effusion_left", or "normal"
    seed: int
    report_uid: str
    reference: str

    @model_validator(mode="after")
    def _labels_match_findings(self) -> PhantomCase:
        shown = frozenset(self.spec().conditions())
        stated = report_conditions(self.reference)
        if shown != stated:
            raise ValueError(
                f"the report states {sorted(stated)} but the phantom shows {sorted(shown)}"
            )
        return self

    def spec(self) -> PhantomSpec:
        """The phantom's findings."""
        return PhantomSpec.parse(self.findings)

    def pair(self) -> PhantomPair:
        """As the training code's phantom–report pair."""
        return PhantomPair(
            spec=self.spec(), seed=self.seed, report_uid=self.report_uid, target=self.reference
        )


def draw_cases(corpus: RadiologyCorpus, count: int = CASES) -> list[PhantomCase]:
    """The first `count` test-split pairs of seed 0, as eval cases."""
    pairs = draw_pairs(PoolConfig(split="test", size=count, image_size=128), corpus)
    return [
        PhantomCase(
            id=f"phantom-{index:03d}",
            findings=str(pair.spec),
            seed=pair.seed,
            report_uid=pair.report_uid,
            reference=pair.target,
        )
        for index, pair in enumerate(pairs)
    ]


def main(argv: list[str]) -> int:
    """`build`: draw the cases from the IU test split and write the JSONL file."""
    if argv != ["build"]:
        print("usage: python -m evals.radiology_cases build", file=sys.stderr)
        return 2
    cases = draw_cases(RadiologyCorpus.load(Settings().cache_dir))
    FILE.write_text("".join(json.dumps(case.model_dump()) + "\n" for case in cases))
    print(f"wrote {len(cases)} cases to {FILE}; now run `python -m evals.datasets refresh`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
