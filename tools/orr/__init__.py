"""The operational readiness review as code: `make orr` (python -m tools.orr).

It runs the final system validation and every check the review asks for (steps.py), keeps
what they wrote in build/orr/evidence/, judges that evidence against the criteria of
docs/orr/criteria.yaml (criteria.py, evidence.py, judge.py) and writes the package an
operator reads: an index with the GO / NO-GO table, one report per area and a one-page
summary (report.py). Numbers come only from the evidence; a criterion whose evidence is
missing is NO-GO.
"""
