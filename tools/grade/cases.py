# cases.py — one test case in its own sandboxed process, and its verdict from positive evidence: the
# case passes only when doctest's XML report (written into a folder the grader reads after the process is
# gone) shows THIS case run to its end with at least one passing and no failing assertion, AND the
# process exited with status 0. Early exit, _exit from a destructor, a signal, a timeout, a missing or
# truncated report: lost, with a reason that says which. Nothing the case prints on stdout counts.
from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gradelib import list_cases  # noqa: E402
from sandbox import Sandbox  # noqa: E402

OUTPUT_KEEP = 4000  # characters of a lost case's output kept for the reports
LISTING_KEEP = 1 << 20  # bytes of a case listing read back whole (a suite's names are a few KB)
STARTUP_TIMEOUT = 10.0
HIDDEN_REASONS = {"failed": "hidden case: a check failed or an exception escaped",
                  "crashed": "hidden case: the process crashed", "timeout": "hidden case: timed out",
                  "error": "hidden case: it did not run to its end"}


@dataclasses.dataclass
class CaseResult:
    status: str          # passed failed crashed timeout error skipped "not built" refused
    reason: str = ""
    seconds: float = 0.0
    output: str = ""     # the end of what a lost case printed (never for a hidden case)


def doctest_filter(case: str) -> str:
    """--test-case= value selecting exactly this name: doctest splits filters at commas (\\, escapes them)."""
    return case.replace("\\", "\\\\").replace(",", "\\,")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclasses.dataclass
class Runner:
    """Runs the cases of the test programs in `sandbox`, one process each, with the model visible when given."""
    sandbox: Sandbox
    timeout: float
    model: Path | None
    scratch: Path

    def _run(self, exe: Path, args: list[str], timeout: float,
             keep: int = OUTPUT_KEEP) -> tuple[int, bool, float, bytes | None, str]:
        """Runs one sandboxed process; returns (exit status, timed out, seconds, XML report, the last `keep`
        characters of its output)."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="case-", dir=self.scratch))
        try:
            self.sandbox.prepare_writable(folder / "report")
            output = folder / "output.txt"  # opened by the grader: the case writes it only through its stdout
            report = folder / "report" / "report.xml"
            env = {"LLM_MODEL_DIR": str(self.model), "LLM_REQUIRE_MODEL": "1"} if self.model else {}
            rc, timed_out, seconds = self.sandbox.run(
                [str(exe), *[a.replace("{report}", str(report)) for a in args]],
                ro=[exe] + ([self.model] if self.model else []), rw=[folder / "report"], env=env, timeout=timeout,
                output=output)
            xml = report.read_bytes() if report.is_file() and not report.is_symlink() else None
            with output.open("rb") as f:
                f.seek(max(0, output.stat().st_size - 4 * keep))
                text = f.read().decode("utf-8", "replace")[-keep:]
            return rc, timed_out, seconds, xml, text
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def startup(self, exe: Path) -> tuple[str, list[str]]:
        """("", cases) when the program starts and lists its cases, else (why, []): code before main (a global
        object's constructor) that crashes or never returns costs the whole suite, quickly."""
        return self.listing(exe, [])

    def listing(self, exe: Path, extra: list[str]) -> tuple[str, list[str]]:
        rc, timed_out, seconds, _, text = self._run(exe, ["--list-test-cases", "--no-version", *extra],
                                                    min(self.timeout, STARTUP_TIMEOUT), LISTING_KEEP)
        if timed_out or rc == -signal.SIGXCPU:
            return f"does not start: still running after {min(self.timeout, STARTUP_TIMEOUT):g} s before any test ran " \
                   "(an endless loop in code that runs before main, e.g. a global object's constructor?)", []
        if rc != 0:
            how = f"killed by {signal_name(-rc)}" if rc < 0 else f"exit status {rc}"
            return f"does not start: {how} before any test ran (code that runs before main, e.g. a global " \
                   f"object's constructor): {text.strip()[-300:]}", []
        if len(text) >= LISTING_KEEP:  # never grade a suite from a cut list: a case would silently vanish
            return f"does not start: its case list is longer than {LISTING_KEEP} characters " \
                   "(code before main printing?)", []
        return "", list_cases(text)

    def run(self, exe: Path, case: str, hidden: bool) -> CaseResult:
        rc, timed_out, seconds, xml, text = self._run(
            exe, [f"--test-case={doctest_filter(case)}", "--case-sensitive=true", "--reporters=xml",
                  "--out={report}", "--no-version"], self.timeout)
        result = verdict(case, rc, timed_out, xml, self.timeout, text)
        result.seconds = round(seconds, 3)
        if result.status != "passed":
            result.output = "" if hidden else text
            if hidden:
                result.reason = HIDDEN_REASONS.get(result.status, result.reason)
        return result


def verdict(case: str, rc: int, timed_out: bool, xml: bytes | None, timeout: float, output: str = "") -> CaseResult:
    if timed_out:
        return CaseResult("timeout", f"timeout: stopped after {timeout:g} s (per-case limit)")
    tc, root = _find_case(xml, case)
    if rc < 0:
        crash = tc.findtext(".//Exception[@crash='true']") if tc is not None else None
        what = (crash or "").strip() or signal_name(-rc)
        if -rc == signal.SIGXCPU:
            what += " (its CPU-time limit)"
        elif -rc == signal.SIGXFSZ:
            what += " (it wrote more than its file-size limit)"
        if "terminate called" in output:
            what += " — uncaught exception" + "".join(
                f": {line.split('what():', 1)[1].strip()}" for line in output.splitlines()[-5:] if "what():" in line)
        return CaseResult("crashed", f"crashed: {what}")
    if tc is None:
        if xml is None or root is None:
            return CaseResult("error", f"ended before its case did: exit status {rc} and no complete doctest report "
                                       "(exit(), _exit(), quick_exit() or abort() in the code under test?)")
        return CaseResult("error", "doctest's report does not show this case running (a test name doctest cannot "
                                   "select on its own?)")
    asserts = tc.find("OverallResultsAsserts")
    totals = root.find("OverallResultsTestCases")
    if asserts is None or totals is None:
        return CaseResult("error", "ended before its case did: doctest's report stops in the middle of the case")
    failed = int(asserts.get("failures", "1")) > 0 or asserts.get("test_case_success") != "true"
    if failed:
        return CaseResult("failed", _first_failure(tc) or "failed")
    if int(asserts.get("successes", "0")) < 1:
        return CaseResult("failed", "the case ran no assertion: a case passes only on checks that pass "
                                    "(a skipped case does not)")
    if rc != 0 or totals.get("failures") != "0":
        return CaseResult("error", f"doctest reported the case passing but the process exited with status {rc}")
    return CaseResult("passed")


def _find_case(xml: bytes | None, case: str) -> tuple[ET.Element | None, ET.Element | None]:
    """(this case's <TestCase>, the document root) of a complete report; (None, None) when there is none."""
    if not xml:
        return None, None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    ran = [tc for tc in root.iter("TestCase") if tc.get("name") == case and tc.get("skipped") != "true"]
    return (ran[0] if len(ran) == 1 else None), root


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _first_failure(tc: ET.Element) -> str:
    """The first failed check, exception or FAIL message, like doctest's console line."""
    for el in tc.iter():
        where = f"{Path(el.get('filename', '')).name}:{el.get('line', '')}: " if el.get("filename") else ""
        infos = " | ".join(_text(i) for i in el.findall("Info"))
        if el.tag == "Expression" and el.get("success") == "false":
            kind = el.get("type", "CHECK")
            line = f"{where}{kind}( {_text(el.find('Original'))} ) is NOT correct! values: {kind}( " \
                   f"{_text(el.find('Expanded'))} )"
            return line + (f" | {infos}" if infos else "")
        if el.tag == "Exception":
            return f"test case THREW exception: {_text(el)}"
        if el.tag == "Message" and "ERROR" in el.get("type", ""):
            return f"{where}{el.get('type')}: {_text(el.find('Text'))}" + (f" | {infos}" if infos else "")
    return ""
