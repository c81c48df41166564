"""What the grader writes: the gradebook, feedback per student, written answers, misconceptions.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so
an interrupted run never leaves half a gradebook. Rows are sorted, so the same input gives the
same bytes.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

COLUMNS = ["student", "notebook", "exercise", "score", "max_score", "status", "message"]
STATUSES = ("passed", "failed", "error", "timeout", "flagged", "invalid", "marked")


def atomic_write(path: Path, data: bytes | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def exercise_key(exercise_id: str) -> tuple:
    try:
        return (0, tuple(int(part) for part in exercise_id.split(".")))
    except ValueError:
        return (1, (exercise_id,))


def _number(value: float) -> str:
    return f"{value:g}"


def rows_from_results(results: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Gradebook rows (dicts of COLUMNS) from per-submission results, sorted."""
    rows = []
    for result in results:
        if result.get("invalid") is not None:
            rows.append({"student": result["student"], "notebook": result["notebook"],
                         "exercise": "", "score": "0",
                         "max_score": _number(result.get("max_score", 0)),
                         "status": "invalid", "message": result["invalid"]})
            continue
        for exercise in result["exercises"]:
            rows.append({"student": result["student"], "notebook": result["notebook"],
                         "exercise": exercise["exercise_id"],
                         "score": _number(exercise["score"]),
                         "max_score": _number(exercise["max_score"]),
                         "status": exercise["status"], "message": exercise["message"]})
    rows.sort(key=lambda row: (row["student"], row["notebook"], exercise_key(row["exercise"])))
    return rows


def read_overrides(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """The instructor's overrides: ``student,notebook,exercise,score[,status][,message]``."""
    overrides = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"student", "notebook", "exercise", "score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: the overrides file needs the columns student, notebook, "
                             f"exercise, score (missing: {', '.join(sorted(missing))})")
        for number, row in enumerate(reader, start=2):
            try:
                float(row["score"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}, line {number}: score {row['score']!r} is not a "
                                 "number") from None
            status = (row.get("status") or "").strip()
            if status and status not in STATUSES:
                raise ValueError(f"{path}, line {number}: status {status!r} is not one of "
                                 f"{', '.join(STATUSES)}")
            overrides[(row["student"], row["notebook"], row["exercise"])] = row
    return overrides


def apply_overrides(rows: list[dict[str, str]],
                    overrides: dict[tuple[str, str, str], dict[str, str]]) -> list[dict[str, str]]:
    for row in rows:
        override = overrides.get((row["student"], row["notebook"], row["exercise"]))
        if override is None:
            continue
        was = f"{row['status']}: {row['message']}"
        row["score"] = _number(float(override["score"]))
        row["status"] = (override.get("status") or "").strip() or (
            "passed" if float(override["score"]) >= float(row["max_score"] or 0) > 0
            else row["status"])
        note = (override.get("message") or "").strip()
        row["message"] = f"instructor override{': ' + note if note else ''} (was {was})"[:400]
    return rows


def gradebook_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


_VERDICT = {"passed": "✅ passed", "failed": "❌ not passed", "error": "❌ error",
            "timeout": "⏱ stopped (time limit)", "flagged": "🔎 for your instructor to review",
            "invalid": "⚠ could not be graded", "marked": "✍ marked by your instructor"}


def feedback_markdown(student: str, results: list[dict[str, Any]],
                      rows: list[dict[str, str]]) -> str:
    """RESULTS/feedback/<student>.md: per notebook and exercise, the verdict and the hint."""
    final = {(r["notebook"], r["exercise"]): r for r in rows}
    lines = [f"# Feedback for {student}", ""]
    for result in sorted(results, key=lambda r: r["notebook"]):
        lines += [f"## {result['notebook']}", ""]
        if result.get("invalid") is not None:
            lines += [f"⚠ This file could not be graded: {result['invalid']}", ""]
            continue
        for exercise in result["exercises"]:
            row = final.get((result["notebook"], exercise["exercise_id"]), {})
            status = row.get("status", exercise["status"])
            score = row.get("score", _number(exercise["score"]))
            top = row.get("max_score", _number(exercise["max_score"]))
            lines.append(f"### Exercise {exercise['exercise_id']}: {_VERDICT[status]} "
                         f"({score}/{top})")
            lines.append("")
            if status == "flagged" and exercise.get("flags"):
                lines.append("Your answer does something the course asks you not to do, so a "
                             "person will look at it:")
                lines += [f"- {flag}" for flag in exercise["flags"]]
                lines.append("")
            if status == "marked":
                # the marks per point and the marker's comment (never the rubric's text)
                lines += [f"{row['message'][0].upper()}{row['message'][1:]}  "]
            else:
                lines += [f"{line}  " for line in exercise.get("feedback", [])]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def written_markdown(student: str, results: list[dict[str, Any]],
                     prompts: dict[str, str]) -> str | None:
    """RESULTS/written/<student>.md: the written answers, for the instructor to read."""
    parts = []
    for result in sorted(results, key=lambda r: r["notebook"]):
        for exercise in result.get("exercises", []):
            if exercise.get("written") is None:
                continue
            prompt = prompts.get(exercise["exercise_id"])
            parts += [f"## {result['notebook']}, exercise {exercise['exercise_id']}", ""]
            if prompt:
                parts += [f"> {prompt}", ""]
            parts += [exercise["written"].strip() or "*(no answer)*", ""]
    if not parts:
        return None
    return "\n".join([f"# Written answers of {student}", ""] + parts).rstrip() + "\n"


def misconceptions(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per exercise: submissions, passes, and how many hit each hint id (most common first)."""
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"submitted": 0, "passed": 0,
                                                             "hints": Counter(),
                                                             "statuses": Counter()})
    for result in results:
        for exercise in result.get("exercises", []):
            if exercise.get("written") is not None or exercise["max_score"] == 0:
                continue
            entry = table[exercise["exercise_id"]]
            entry["submitted"] += 1
            entry["statuses"][exercise["status"]] += 1
            if exercise["status"] == "passed":
                entry["passed"] += 1
            elif exercise.get("hint_id"):
                entry["hints"][exercise["hint_id"]] += 1
    return dict(sorted(table.items(), key=lambda item: exercise_key(item[0])))


def _ranked(counter: Counter) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def misconceptions_markdown(table: dict[str, dict[str, Any]], hints: dict[str, dict[str, str]],
                            chart: str | None) -> str:
    lines = ["# Misconceptions", "",
             "Per exercise: how many submissions passed, and how many failed with each known "
             "mistake (the checker's hint id), most common first. Use it to decide what to "
             "re-teach.", ""]
    if chart:
        lines += [f"![passes and known mistakes per exercise]({chart})", ""]
    for exercise_id, entry in table.items():
        lines += [f"## Exercise {exercise_id}", "",
                  f"{entry['passed']} of {entry['submitted']} passed.", ""]
        other = {status: n for status, n in entry["statuses"].items() if status != "passed"}
        if entry["hints"]:
            lines += ["| hint id | students | what the hint says |", "|---|---:|---|"]
            for hint_id, count in _ranked(entry["hints"]):
                text = hints.get(exercise_id, {}).get(hint_id, "")
                text = text.replace("|", "\\|").replace("\n", " ")
                lines.append(f"| `{hint_id}` | {count} | {text[:160]} |")
            lines.append("")
        if other:
            lines += ["Not passed, by status: " + ", ".join(
                f"{status} {n}" for status, n in sorted(other.items())) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def misconceptions_chart(table: dict[str, dict[str, Any]], path: Path) -> bool:
    """A horizontal bar chart: per exercise, passed and each hint id. False when empty."""
    bars: list[tuple[str, int, str]] = []
    for exercise_id, entry in table.items():
        bars.append((f"{exercise_id} passed", entry["passed"], "tab:green"))
        for hint_id, count in _ranked(entry["hints"]):
            bars.append((f"{exercise_id} {hint_id}", count, "tab:red"))
    if not bars:
        return False
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    height = max(2.5, 0.28 * len(bars) + 1)
    fig, ax = plt.subplots(figsize=(8, height))
    labels = [label for label, _, _ in bars][::-1]
    ax.barh(range(len(bars)), [count for _, count, _ in bars][::-1],
            color=[color for _, _, color in bars][::-1])
    ax.set_yticks(range(len(bars)), labels, fontsize=8)
    ax.set_xlabel("students")
    ax.set_title("Passed (green) and known mistakes (red) per exercise")
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return True
