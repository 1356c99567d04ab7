"""SQLModel tables. Every column that a filter or a list uses carries an index.

Adapter references on samples, ratings and preferences are plain indexed integers (no
foreign key): deleting an adapter from the registry must never delete or rewrite feedback.

Every table with an integer id sets ``sqlite_autoincrement=True``: SQLite would otherwise
hand the id of a deleted newest row to the next insert, and an id (an export directory, a
bookmarked link, an adapter's provenance, the feedback of a deleted adapter) must never
name two different things over time. PostgreSQL sequences never reuse ids.

One module per area; the package names every table, so ``from training_dashboard.db.models import
Rating`` and ``import training_dashboard.db.models`` (which registers every table on the
metadata) work as they always have.
"""

from training_dashboard.db.models.accounts import (
    ApiToken,
    AuditEvent,
    AuthSession,
    LoginAttempt,
    SetupLink,
    UserAccount,
)
from training_dashboard.db.models.common import utcnow
from training_dashboard.db.models.datasets import Adapter, Dataset, DatasetExport, DatasetMember
from training_dashboard.db.models.evaluations import Evaluation, EvaluationPair, EvaluationVote
from training_dashboard.db.models.feedback import (
    AudioSample,
    CoincidenceCount,
    Counter,
    CoverageCount,
    GenerationJob,
    Preference,
    Prompt,
    Rater,
    Rating,
    RatingTag,
)
from training_dashboard.db.models.library import PromptFavourite, PromptStats, PromptTemplate
from training_dashboard.db.models.listening import HeardCount, Listening, RaterListening
from training_dashboard.db.models.runs import TrainingRun, TrainingRunMetric
from training_dashboard.db.models.workers import QueueLease, QueueRated, WorkerNode

__all__ = [
    "Adapter", "ApiToken", "AudioSample", "AuditEvent", "AuthSession", "CoincidenceCount", "Counter",
    "CoverageCount", "Dataset", "DatasetExport", "DatasetMember", "Evaluation", "EvaluationPair", "EvaluationVote",
    "GenerationJob", "HeardCount", "Listening", "LoginAttempt", "Preference", "Prompt",
    "PromptFavourite", "PromptStats", "PromptTemplate", "QueueLease", "QueueRated", "Rater",
    "RaterListening", "Rating", "RatingTag", "SetupLink", "TrainingRun", "TrainingRunMetric", "UserAccount",
    "WorkerNode", "utcnow",
]
