"""Quizzes: the questions of an exam course (single choice, multiple choice, true/false)
validated and normalised on save, what the browser may see before submitting (no
correct answers), and server-side grading: a question counts only when exactly its
correct options are chosen, and the unrounded score is compared with the pass mark."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.extensions import db
from app.models import (
    AuditAction,
    Course,
)
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import ValidationFailed

QUESTION_TYPES = ("single", "multiple", "true_false")
MAX_OPTIONS = 10
MAX_QUESTIONS = 200


def _option_index(value: Any) -> int:
    """An option's index: an int (not a bool, not a float such as 1e308) or ASCII digits
    ("²" and "1e400" are not); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not an option number")
    if isinstance(value, int):
        if not 0 <= value <= MAX_OPTIONS:
            raise ValueError("not an option number")
        return value
    if isinstance(value, str) and fields.DIGITS.fullmatch(value) and int(value) <= MAX_OPTIONS:
        return int(value)
    raise ValueError("not an option number")

def validate_questions(raw: Any) -> list[dict[str, Any]]:
    """Check and normalise quiz questions; raises ValidationFailed naming each problem.

    Each question: type single|multiple|true_false, a prompt, 2-10 distinct options
    (true/false: exactly True and False), correct answers that are among the options
    (exactly one unless multiple choice), and an optional explanation.
    """
    if not isinstance(raw, list):
        raise ValidationFailed("Questions must be a list.", fields={"questions": ["Not a list."]})
    if len(raw) > MAX_QUESTIONS:
        raise ValidationFailed(f"A quiz has at most {MAX_QUESTIONS} questions.",
                               fields={"questions": [f"At most {MAX_QUESTIONS}."]})
    problems: dict[str, list[str]] = {}
    clean: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for number, question in enumerate(raw, start=1):
        key = f"questions.{number}"
        errors: list[str] = []
        if not isinstance(question, dict):
            problems[key] = ["Not a question."]
            continue
        kind = question.get("type")
        if not isinstance(kind, str):
            kind = None
        prompt = str(question.get("prompt") or "").strip()
        raw_options = question.get("options") or []
        if not isinstance(raw_options, list) or not all(
                isinstance(o, str | int) and not isinstance(o, bool) for o in raw_options):
            raw_options = []
        options = [str(o).strip() for o in raw_options]
        correct = question.get("correct") or []
        if not isinstance(correct, list):
            correct = [correct]
        explanation = str(question.get("explanation") or "").strip()
        if kind not in QUESTION_TYPES:
            errors.append("Choose single choice, multiple choice or true/false.")
        if not prompt:
            errors.append("Write the question.")
        elif len(prompt) > 1000:
            errors.append("Keep the question under 1000 characters.")
        if kind == "true_false":
            options = ["True", "False"]
        if len(options) < 2 or len(options) > 10 or any(not o for o in options):
            errors.append("Give 2 to 10 options, none empty.")
        elif len(set(options)) != len(options):
            errors.append("Options must differ from one another.")
        try:
            correct = sorted({_option_index(i) for i in correct})
        except (TypeError, ValueError):
            correct = []
            errors.append("Correct answers must be option numbers.")
        if not correct:
            errors.append("Mark the correct answer.")
        elif any(i < 0 or i >= len(options) for i in correct):
            errors.append("A correct answer must be one of the options.")
        elif kind in ("single", "true_false") and len(correct) != 1:
            errors.append("A single-choice question has exactly one correct answer.")
        if len(explanation) > 2000:
            errors.append("Keep the explanation under 2000 characters.")
        question_id = str(question.get("id") or "") or secrets.token_hex(4)
        while question_id in seen_ids:
            question_id = secrets.token_hex(4)
        seen_ids.add(question_id)
        if errors:
            problems[key] = errors
        else:
            clean.append({"id": question_id, "type": kind, "prompt": prompt, "options": options,
                          "correct": correct, "explanation": explanation})
    if problems:
        raise ValidationFailed("Some questions need fixing.", fields=problems)
    return clean


def save_quiz(course: Course, questions: Any, actor: Actor, *, passing_score: int | None = None,
              attempt_limit: int | None | str = "keep") -> Course:
    """Replace the course's questions (validated) and quiz settings; the course becomes
    an exam course. Raises ValidationFailed."""
    clean = validate_questions(questions)
    checked = fields.Fields()
    passing_score = checked.check(fields.optional_integer, passing_score, "passing_score",
                                  min=1, max=100, message="From 1 to 100.")
    if attempt_limit != "keep":
        attempt_limit = checked.check(fields.optional_integer, attempt_limit, "attempt_limit",
                                      min=1, max=100, message="From 1 to 100, or empty.")
    checked.done()
    before = {"questions": len(course.questions or []), "passing_score": course.passing_score,
              "attempt_limit": course.attempt_limit, "has_exam": course.has_exam}
    course.questions = clean
    course.has_exam = True
    if passing_score is not None:
        course.passing_score = passing_score
    if attempt_limit != "keep":
        course.attempt_limit = attempt_limit  # type: ignore[assignment]
    db.session.flush()
    after = {"questions": len(clean), "passing_score": course.passing_score,
             "attempt_limit": course.attempt_limit, "has_exam": True}
    audit.record(actor, AuditAction.UPDATE, "course", course.id,
                 audit.changes_between(before, after))
    return course


def public_questions(course: Course) -> list[dict[str, Any]]:
    """What the browser may see before submission: no correct answers, no explanations."""
    return public_questions_of(course.questions or [])


def public_questions_of(questions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions (validated) as a learner sees them before submitting (the editor's
    preview too): no correct answers, no explanations."""
    return [{"id": q["id"], "type": q["type"], "prompt": q["prompt"], "options": q["options"]}
            for q in questions]


def picked_options(answers: dict[str, Any], question_id: str) -> set[int]:
    """The option indexes chosen for a question: one index or a list of them (0 is an
    answer); anything that is not an option number picks nothing."""
    chosen = answers.get(question_id)
    if chosen is None:
        return set()
    if not isinstance(chosen, list):
        chosen = [chosen]
    try:
        return {_option_index(c) for c in chosen}
    except (TypeError, ValueError):
        return set()


def check_answer_shape(questions: Sequence[dict[str, Any]], answers: Any) -> None:
    """The JSON shape of quiz answers: {question id: option index or a list of them}, an
    index a whole number among the question's options (0 is the first). Anything else is
    422 naming the question, before any attempt is used. The API's contract (seed 003);
    the page sends form fields and only picks option numbers (picked_options). Raises
    ValidationFailed."""
    if not isinstance(answers, dict):
        raise ValidationFailed("Send answers as {question id: option index or indexes}.",
                               fields={"answers": ["An object."]})
    by_id = {q["id"]: q for q in questions}
    problems: dict[str, list[str]] = {}
    for key, value in answers.items():
        question = by_id.get(key)
        if question is None:
            problems[f"answers.{key}"] = ["Not a question of this quiz."]
            continue
        chosen = value if isinstance(value, list) else [value]
        count = len(question.get("options") or [])
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < count
                   for c in chosen):
            problems[f"answers.{key}"] = [
                f"An option index from 0 to {count - 1}, or a list of them."]
    if problems:
        raise ValidationFailed("Some answers are not valid.", fields=problems)


def unanswered(questions: Sequence[dict[str, Any]], answers: dict[str, Any]) -> list[str]:
    """The ids of the questions with no option chosen, in the quiz's order."""
    return [q["id"] for q in questions if not picked_options(answers, q["id"])]


class IncompleteAnswers(ValidationFailed):
    """A submission leaves questions unanswered and did not say "submit anyway"."""

    def __init__(self, question_ids: list[str], total: int) -> None:
        count = len(question_ids)
        super().__init__(
            f"{count} of {total} question{'' if total == 1 else 's'} "
            f"{'is' if count == 1 else 'are'} unanswered. Answer "
            f"{'it' if count == 1 else 'them'}, or submit anyway: an unanswered question "
            "counts as wrong and the attempt is used.",
            fields={"answers": [f"Unanswered: {', '.join(question_ids)}."]})
        self.question_ids = question_ids


@dataclass(frozen=True)
class Grade:
    score: float
    passed: bool
    wrong: list[str]
    total: int


def grade(questions: Sequence[dict[str, Any]], answers: dict[str, Any],
          passing_score: int) -> Grade:
    """A question counts when exactly its correct options are chosen. The score is not
    rounded before it is compared: 79.9 fails a pass mark of 80, 80.0 passes."""
    wrong = []
    for question in questions:
        if picked_options(answers, question["id"]) != set(question["correct"]):
            wrong.append(question["id"])
    total = len(questions)
    score = 100.0 * (total - len(wrong)) / total if total else 0.0
    return Grade(score=score, passed=score >= passing_score, wrong=wrong, total=total)
