#!/usr/bin/env python3
"""Validates Palisade's OSCAL documents with NIST's model as compliance-trestle implements it.

Usage: validate-oscal.py ASSESSMENT_RESULTS.json COMPONENT_DEFINITION.json

Each document is read into trestle's pydantic model of OSCAL 1.1.3 (compliance-trestle 3.x);
a document that does not conform raises. To show the check can fail, a copy of each with
one field broken must be refused too.
"""
import copy
import json
import pathlib
import sys
import tempfile

from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition


def read(model, path):
    return model.oscal_read(pathlib.Path(path))


def refused(model, doc, key):
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "broken.json"
        p.write_text(json.dumps(doc))
        try:
            read(model, p)
        except Exception:  # pydantic's ValidationError, or trestle's wrapper of it
            return True
    print(f"a broken {key} was accepted: the validation proves nothing", file=sys.stderr)
    return False


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ar_path, cd_path = sys.argv[1], sys.argv[2]
    ar = read(AssessmentResults, ar_path)
    cd = read(ComponentDefinition, cd_path)
    if ar is None or cd is None:
        print("trestle read nothing", file=sys.stderr)
        return 1
    results = ar.results
    findings = sum(len(r.findings or []) for r in results)
    observations = sum(len(r.observations or []) for r in results)
    reqs = sum(
        len(ci.implemented_requirements)
        for c in cd.components or []
        for ci in c.control_implementations or []
    )
    ar_doc = json.loads(pathlib.Path(ar_path).read_text())
    broken = copy.deepcopy(ar_doc)
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "fine"
    cd_doc = json.loads(pathlib.Path(cd_path).read_text())
    broken_cd = copy.deepcopy(cd_doc)
    broken_cd["component-definition"]["components"][0]["uuid"] = "not-a-uuid"
    if not refused(AssessmentResults, broken, "assessment-results") or not refused(
        ComponentDefinition, broken_cd, "component-definition"
    ):
        return 1
    print(
        f"OSCAL {OSCAL_VERSION} (compliance-trestle): {ar_path}: {len(results)} result(s), "
        f"{findings} finding(s), {observations} observation(s); {cd_path}: {reqs} implemented requirement(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
