"""LLM judges: a policy rubric, answer log-probabilities read as a calibrated risk score."""

from .answer import AnswerDistribution, read_answer
from .policies import BUILTIN_RUBRICS
from .rubric import AnswerOption, Rubric, build_request
from .scorer import LLMJudge

__all__ = ["BUILTIN_RUBRICS", "AnswerDistribution", "AnswerOption", "LLMJudge", "Rubric", "build_request", "read_answer"]
