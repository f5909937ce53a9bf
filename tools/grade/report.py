# report.py — points and what the grader writes: the weights file (grading/weights.toml, format in
# grading/README.md), report.txt, junit.xml, results.json in the project's own format, Gradescope's or
# GitHub Classroom's, and a batch's summary.csv. Only the grader writes these, after every case's
# process is gone; a hidden case contributes its name, its points and a fixed reason, never its output.
from __future__ import annotations

import base64
import csv
import dataclasses
import fnmatch
import json
import os
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gradelib import UsageError, dump_json, fmt_points  # noqa: E402

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "grading" / "weights.toml"
FORMATS = ("llm", "gradescope", "classroom")


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Rule:
    match: str
    points: float
    note: str = ""
    used: int = 0


@dataclasses.dataclass
class Weights:
    path: Path | None
    default: float = 1.0
    rules: list[Rule] = dataclasses.field(default_factory=list)

    def points(self, case_id: str) -> float:
        """Points of "lesson04/basic/step 3: ...": the first rule whose glob matches, else the default."""
        for rule in self.rules:
            if fnmatch.fnmatchcase(case_id, rule.match):
                rule.used += 1
                return rule.points
        return self.default

    def unused_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.used == 0]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise UsageError(f"{where} must be a number >= 0, got {value!r}")
    return float(value)


def load_weights(path: Path | None) -> Weights:
    if path is None:
        return Weights(None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"weights file {path} does not exist")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"weights file {path}: {e}")
    unknown = set(data) - {"version", "default", "rule"}
    if unknown:
        raise UsageError(f"weights file {path}: unknown key(s) {', '.join(sorted(unknown))} "
                         "(allowed: version, default, [[rule]])")
    if data.get("version", 1) != 1:
        raise UsageError(f"weights file {path}: version = {data['version']!r}, this grader reads version 1")
    w = Weights(path, _number(data.get("default", 1), f"{path}: default"))
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise UsageError(f"weights file {path}: 'rule' must be an array of tables ([[rule]])")
    for i, r in enumerate(rules, 1):
        where = f"{path}: rule {i}"
        if not isinstance(r, dict) or not isinstance(r.get("match"), str) or "points" not in r:
            raise UsageError(f"{where} needs match = \"<glob>\" and points = <number>")
        extra = set(r) - {"match", "points", "note"}
        if extra:
            raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(extra))} (allowed: match, points, note)")
        if r["match"].count("/") < 2:
            raise UsageError(f"{where}: match = {r['match']!r} must look like \"lessonNN/suite/case name\" "
                             "(globs allowed, e.g. \"lesson04/advanced/*\")")
        w.rules.append(Rule(r["match"], _number(r["points"], f"{where}: points"), str(r.get("note", ""))))
    return w


# ---------------------------------------------------------------------------------------------
# report.txt
# ---------------------------------------------------------------------------------------------

RESULT_WORDS = {"passed": "pass", "failed": "FAIL", "crashed": "CRASH", "timeout": "TIMEOUT", "not built": "NOT BUILT",
                "skipped": "skipped", "error": "ERROR", "refused": "REFUSED"}


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def all_cases(r: dict):
    for ls in r["lessons"]:
        for su in ls["suites"]:
            for c in su["cases"]:
                yield ls, su, c


def format_report(r: dict, brief: bool = False) -> str:
    lines = [f"Grading of '{r['submission']}' ({r['submission_path']}, {r['submission_shape']})",
             f"repository {r['repository_commit']}, per-case timeout {r['timeout_s']:g} s, weights: {r['weights']}, "
             f"sandbox: {r['sandbox']}" + (", hidden tests: yes" if r["hidden_tests"] else "")]
    lines += [f"note: {n}" for n in r["notes"]]
    if r["model"] is None:
        lines.append("note: stories260K is missing; the cases that need it are not counted "
                     "(--allow-missing-model) or count as errors")
    rows = []
    for ls in r["lessons"]:
        for su in ls["suites"]:
            if not brief:
                for c in su["cases"]:
                    # A lesson that was not built or not submitted says why once, below the table.
                    why = c["reason"] if su["status"] == "ok" and c["status"] != "passed" else ""
                    rows.append((ls["lesson"], su["suite"], c["case"], RESULT_WORDS.get(c["status"], c["status"]),
                                 f"{fmt_points(c['points'])} / {fmt_points(c['max_points'])}", why))
            rows.append((ls["lesson"], su["suite"], f"= {su['suite']} subtotal ({su['passed']} of {su['total']} "
                         f"cases pass{'; ' + su['status'] if su['status'] != 'ok' else ''})", "",
                         f"{fmt_points(su['points'])} / {fmt_points(su['max_points'])}", ""))
        rows.append((ls["lesson"], "", f"== {ls['lesson']} total ({ls['status']})", "",
                     f"{fmt_points(ls['points'])} / {fmt_points(ls['max_points'])}", ""))
    w_case = min(90, max([len(x[2]) for x in rows] + [9]))
    widths = [max([len(x[i]) for x in rows] + [len(h)]) for i, h in enumerate(("lesson", "suite"))] + [w_case] + \
             [max([len(x[i]) for x in rows] + [6]) for i in (3, 4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines += ["", fmt.format("lesson", "suite", "test case", "result", "points").rstrip(),
              fmt.format(*("-" * w for w in widths))]
    for row in rows:
        lines.append(fmt.format(row[0], row[1], short(row[2], w_case), row[3], row[4]).rstrip())
        if row[5]:
            lines.append(" " * (widths[0] + widths[1] + 4) + "  -> " + short(row[5], 150))
    for ls in r["lessons"]:
        if ls["first_error"]:
            lines.append(f"\n{ls['lesson']} {ls['status']}: {ls['first_error']}")
        elif ls["status"] == "not submitted":
            lines.append(f"\n{ls['lesson']} not submitted: graded as the committed stubs, every case fails")
        for su in ls["suites"]:
            if su["status"] not in ("ok", "not submitted", ls["status"]):
                lines.append(f"{ls['lesson']} {su['suite']} suite {su['status']}: {su['first_error']}")
    pct = 100.0 * r["points"] / r["max_points"] if r["max_points"] else 0.0
    lines.append(f"\nTOTAL {fmt_points(r['points'])} / {fmt_points(r['max_points'])} points ({pct:.1f}%)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# junit.xml and results.json (llm, gradescope, classroom)
# ---------------------------------------------------------------------------------------------

def write_junit(r: dict, path: Path) -> None:
    root = ET.Element("testsuites", name=f"llm-lab grading: {r['submission']}")
    tot = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for ls in r["lessons"]:
        for su in ls["suites"]:
            ts = ET.SubElement(root, "testsuite", name=f"{ls['lesson']}.{su['suite']}")
            props = ET.SubElement(ts, "properties")
            for k in ("points", "max_points", "status"):
                ET.SubElement(props, "property", name=k, value=su[k] if k == "status" else fmt_points(su[k]))
            counts = dict.fromkeys(tot, 0)
            for c in su["cases"]:
                counts["tests"] += 1
                tc = ET.SubElement(ts, "testcase", classname=f"{ls['lesson']}.{su['suite']}", name=c["case"],
                                   time=f"{c['seconds']:.3f}")
                if c["status"] == "failed":
                    counts["failures"] += 1
                    ET.SubElement(tc, "failure", type="failed", message=c["reason"]).text = c["output"]
                elif c["status"] == "skipped":
                    counts["skipped"] += 1
                    ET.SubElement(tc, "skipped", message=c["reason"])
                elif c["status"] != "passed":
                    counts["errors"] += 1
                    ET.SubElement(tc, "error", type=c["status"].replace(" ", "_"), message=c["reason"]).text = c["output"]
                ET.SubElement(tc, "system-out").text = \
                    f"points: {fmt_points(c['points'])} / {fmt_points(c['max_points'])}\n"
            for k, v in counts.items():
                ts.set(k, str(v))
                tot[k] += v
            ts.set("time", f"{sum(c['seconds'] for c in su['cases']):.3f}")
    for k, v in tot.items():
        root.set(k, str(v))
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def gradescope(r: dict, hidden_visibility: str) -> dict:
    """Gradescope's results.json: one test per case; hidden cases are shown only as `hidden_visibility` says."""
    tests = []
    for ls, su, c in all_cases(r):
        if c["status"] == "skipped":
            continue
        text = c["reason"] + (f"\n\n{c['output']}" if c["output"] else "")
        tests.append({"name": f"{ls['lesson']} {su['suite']}: {c['case']}", "score": c["points"],
                      "max_score": c["max_points"], "status": "passed" if c["status"] == "passed" else "failed",
                      "output": text.strip(), "visibility": hidden_visibility if su["suite"] == "hidden" else "visible"})
    summary = [f"{ls['lesson']}: {ls['status']}" + (f" — {ls['first_error']}" if ls["first_error"] else "")
               for ls in r["lessons"]]
    return {"score": r["points"], "execution_time": round(r["seconds"]), "output": "\n".join(r["notes"] + summary),
            "stdout_visibility": "hidden", "tests": tests}


def classroom(r: dict) -> dict:
    """The payload GitHub Classroom's autograding-grading-reporter reads (base64 in a step output)."""
    tests = [{"name": f"{ls['lesson']} {su['suite']}: {c['case']}", "status": "pass" if c["status"] == "passed"
              else "fail", "score": c["points"], "message": c["reason"], "execution_time": f"{c['seconds']:.2f}s"}
             for ls, su, c in all_cases(r) if c["status"] != "skipped"]
    return {"version": 1, "status": "pass" if r["points"] == r["max_points"] else "fail",
            "max_score": r["max_points"], "tests": tests}


def write_results(r: dict, path: Path, fmt: str, hidden_visibility: str) -> None:
    if fmt == "gradescope":
        dump_json(path, gradescope(r, hidden_visibility))
    elif fmt == "classroom":
        payload = classroom(r)
        dump_json(path, payload)
        if os.environ.get("GITHUB_OUTPUT"):  # the workflow's step output `result`
            with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
                f.write("result=" + base64.b64encode(json.dumps(payload).encode()).decode() + "\n")
    else:
        dump_json(path, r)


def write_summary(results: dict[str, dict], path: Path) -> None:
    cols: list[str] = []
    for r in results.values():
        for ls in r["lessons"]:
            for c in [f"{ls['lesson']}_status"] + [f"{ls['lesson']}_{s['suite']}" for s in ls["suites"]] \
                    + [f"{ls['lesson']}_total"]:
                if c not in cols:
                    cols.append(c)
    header = ["submission", "path", "points", "max_points", "percent", "crashes", "timeouts"] + cols + ["error"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for name, r in results.items():
            cases = [c for _, _, c in all_cases(r)]
            row = {"submission": name, "path": r["submission_path"], "points": fmt_points(r["points"]),
                   "max_points": fmt_points(r["max_points"]), "error": r.get("error", ""),
                   "percent": f"{100.0 * r['points'] / r['max_points']:.1f}" if r["max_points"] else "0.0",
                   "crashes": sum(c["status"] == "crashed" for c in cases),
                   "timeouts": sum(c["status"] == "timeout" for c in cases)}
            for ls in r["lessons"]:
                row[f"{ls['lesson']}_status"] = ls["status"]
                row.update({f"{ls['lesson']}_{s['suite']}": fmt_points(s["points"]) for s in ls["suites"]})
                row[f"{ls['lesson']}_total"] = fmt_points(ls["points"])
            w.writerow([row.get(c, "") for c in header])
