"""The fast guardrail tier: presidio PII and secrets (`pii.py`), and trained linear classifiers
for prompt injection, harmful requests (with hazard categories) and refusals (`classifier.py`).
The check table (`models/catalog.py`) points at them; building one loads its model or artifact.
Artifacts come from `raiwatch guardrails train`.
"""

FAST_TIER = ("pii.presidio", "injection.classifier", "harm.classifier", "refusal.classifier")
