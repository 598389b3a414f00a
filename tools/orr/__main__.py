"""`make orr`: run the review's steps, judge the evidence, write the package, exit 1 on NO-GO.

.venv/bin/python -m tools.orr                 # everything, into build/orr/ (~15 min)
.venv/bin/python -m tools.orr --report-only   # judge the evidence already there again
.venv/bin/python -m tools.orr --only lint,kustomize   # some steps: the rest is NO-GO
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from . import criteria as criteria_file
from . import report, steps
from .evidence import Evidence
from .judge import judge

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.orr", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "orr")
    parser.add_argument("--criteria", type=Path, default=REPO / "docs" / "orr" / "criteria.yaml")
    parser.add_argument("--report-only", action="store_true", help="run nothing; judge again")
    parser.add_argument("--only", help=f"comma-separated steps of: {', '.join(steps.STEPS)}")
    args = parser.parse_args(argv)
    try:
        criteria = criteria_file.load(args.criteria)
    except (OSError, criteria_file.CriteriaError) as error:
        print(f"orr: {error}", file=sys.stderr)
        return 2
    evidence_dir = args.out / "evidence"
    if not args.report_only:
        only = args.only.split(",") if args.only else None
        if unknown := sorted(set(only or []) - set(steps.STEPS)):
            parser.error(f"unknown steps: {', '.join(unknown)}")
        shutil.rmtree(evidence_dir, ignore_errors=True)  # evidence of this run only
        planted = f"orr{secrets.token_urlsafe(18)}:p@ss/w%rd"
        steps.run_all(steps.Context(REPO, evidence_dir, planted), only)
    evidence = Evidence(evidence_dir)
    results = judge(criteria, evidence, REPO)
    written = report.write(args.out, results, criteria.areas, evidence, REPO)
    for result in results:
        mark = "GO   " if result.go else "NO-GO"
        print(f"{mark} {result.criterion.id}: {result.measured}")
        if result.reason:
            print(f"        {result.reason}")
    print(
        f"{report.verdict(results)}: {sum(r.go for r in results)} of {len(results)} criteria "
        f"GO; the package: {written[0]}"
    )
    return 0 if report.verdict(results) == "GO" else 1


if __name__ == "__main__":
    raise SystemExit(main())
