"""The test command's closing line: passed, failed and ignored across every
suite, and a failure when fewer tests ran than the floor kept in the
repository (so a deleted or silently skipped test file is noticed).

Usage: summary.py --floor FILE --cargo LOG [--junit NAME=XML ...]

LOG is the output of `cargo test`; each XML a JUnit report (pytest,
Schemathesis). A suite whose report is missing counts as failed.
"""

import argparse
import re
import sys
import xml.etree.ElementTree as ElementTree


def cargo_counts(path):
    passed = failed = ignored = 0
    pattern = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = pattern.match(line)
            if match:
                passed += int(match[1])
                failed += int(match[2])
                ignored += int(match[3])
    return passed, failed, ignored


def junit_counts(path):
    root = ElementTree.parse(path).getroot()
    cases = root.iter("testcase")
    passed = failed = ignored = 0
    for case in cases:
        outcomes = {child.tag for child in case}
        if outcomes & {"failure", "error"}:
            failed += 1
        elif "skipped" in outcomes:
            ignored += 1
        else:
            passed += 1
    return passed, failed, ignored


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--floor", required=True)
    parser.add_argument("--cargo", required=True)
    parser.add_argument("--junit", action="append", default=[], metavar="NAME=XML")
    args = parser.parse_args()

    suites = [("rust", lambda: cargo_counts(args.cargo))]
    for spec in args.junit:
        name, _, path = spec.partition("=")
        suites.append((name, lambda path=path: junit_counts(path)))

    totals = [0, 0, 0]
    parts = []
    missing = []
    for name, count in suites:
        try:
            passed, failed, ignored = count()
        except (OSError, ElementTree.ParseError) as error:
            missing.append(f"{name} ({error})")
            continue
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + ignored]
        parts.append(f"{name} {passed}")

    with open(args.floor, encoding="utf-8") as f:
        floor = int(f.read().split()[0])
    passed, failed, ignored = totals
    print(
        f"summary: {passed} passed, {failed} failed, {ignored} ignored "
        f"({', '.join(parts)}); floor {floor}"
    )
    problems = []
    if missing:
        problems.append("no report from " + ", ".join(missing))
    if failed:
        problems.append(f"{failed} failed")
    if passed < floor:
        problems.append(
            f"only {passed} tests passed, fewer than the floor of {floor} in {args.floor}: "
            "was a test file deleted or a suite skipped?"
        )
    if problems:
        print("summary: FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
