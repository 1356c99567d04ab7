"""The API contract: pydantic models used by the API (validation, OpenAPI) and the client."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

T = TypeVar("T")

MAX_PROMPT_CHARS = 2000
MAX_TAGS = 20
MAX_PAGE = 1_000_000
MAX_SEED = 2**32 - 1
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on PostgreSQL
SEMVER_RE = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        raise ValueError("must not contain control characters")
    return value


UTCDateTime = Annotated[datetime, AfterValidator(_utc)]
CleanStr = Annotated[str, AfterValidator(_no_control_chars)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$"),
]
NAME_RE = r"^[^\W_][\w .\-]*\Z"  # letters (any script), digits, space . _ -; no path separators


def _name(value: str) -> str:
    if not re.match(NAME_RE, value):
        raise ValueError("use letters, digits, spaces, '.', '_' and '-' only, starting with a letter or digit")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_name)]
Score = Annotated[int, Field(ge=1, le=5, strict=True)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class ErrorBody(BaseModel):
    detail: str


# --- prompts --------------------------------------------------------------------------


class PromptAttributes(Model):
    style: Annotated[CleanStr, Field(max_length=200)] | None = None
    tempo: Annotated[int, Field(ge=40, le=200, strict=True)] | None = None
    instruments: Annotated[list[Annotated[CleanStr, Field(min_length=1, max_length=64)]], Field(max_length=20)] = []
    mood: Annotated[CleanStr, Field(max_length=200)] | None = None


class PromptCreate(Model):
    text: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    attributes: PromptAttributes = PromptAttributes()

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        value = _no_control_chars(value)
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class AudioBrief(Model):
    id: int
    job_id: int | None
    adapter_id: int | None
    adapter_label: str
    seed: int
    duration: float
    sample_rate: int
    stream_url: str
    created_at: UTCDateTime


class PromptPublic(Model):
    id: int
    text: str
    attributes: PromptAttributes
    created_at: UTCDateTime


class PromptDetail(PromptPublic):
    samples: list[AudioBrief]


# --- generation -----------------------------------------------------------------------

JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]


class GenerateRequest(Model):
    prompt_id: Id
    num_samples: Annotated[int, Field(ge=1, le=4, strict=True)] = 1
    adapter_id: Id | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    duration: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] = 5.0
    temperature: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] = 1.0
    top_k: Annotated[int, Field(ge=0, le=4096)] = 250
    top_p: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    guidance_scale: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)] = 3.0


class JobPublic(Model):
    id: int
    prompt_id: int
    adapter_id: int | None
    status: JobStatus
    progress: float
    audio_ids: list[int]
    error: str | None
    num_samples: int
    params: dict[str, Any]
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None
    attempts: int = 0  # scale-out: how many times a worker claimed it
    worker_name: str | None = None  # scale-out: the worker that holds (or last held) it


# --- audio ----------------------------------------------------------------------------


class AudioPublic(AudioBrief):
    prompt: PromptPublic
    adapter: AdapterBrief | None
    params: dict[str, Any]
    rating_count: int


class AdapterBrief(Model):
    id: int
    name: str
    version: str


# --- feedback -------------------------------------------------------------------------


class Criteria(Model):
    musicality: Score | None = None
    coherence: Score | None = None
    emotional_alignment: Score | None = None


class FeedbackCreate(Model):
    audio_id: Id
    rating: Score
    criteria: Criteria = Criteria()
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    notes: Annotated[CleanStr, Field(max_length=5000)] | None = None
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str]) -> list[str]:
        return sorted(set(tags))


class FeedbackPublic(Model):
    id: int
    audio_id: int
    prompt_id: int
    adapter_id: int | None
    rating: int
    criteria: Criteria
    tags: list[str]
    notes: str | None
    rater: str | None
    created_at: UTCDateTime
    rater_id: int | None = None


class PreferenceCreate(Model):
    chosen_id: Id
    rejected_id: Id
    tie: bool = False
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

    @model_validator(mode="after")
    def _distinct(self) -> PreferenceCreate:
        if self.chosen_id == self.rejected_id:
            raise ValueError("chosen_id and rejected_id must be different clips")
        return self


class RankingCreate(Model):
    audio_ids: Annotated[list[Id], Field(min_length=2, max_length=8)]
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

    @field_validator("audio_ids")
    @classmethod
    def _unique(cls, ids: list[int]) -> list[int]:
        if len(set(ids)) != len(ids):
            raise ValueError("a ranking lists each clip once")
        return ids


class PreferencePublic(Model):
    id: int
    prompt_id: int
    chosen_id: int
    rejected_id: int
    tie: bool
    rater: str | None
    created_at: UTCDateTime
    rater_id: int | None = None


class Readiness(Model):
    threshold: int
    min_rating: int
    eligible: int
    remaining: int
    ready: bool


class FeedbackStats(Model):
    total_feedback: int
    rating_distribution: dict[str, int]
    samples_by_adapter: dict[str, int]
    avg_rating_by_adapter: dict[str, float]
    preference_pairs: int
    ties: int
    rated_samples: int
    readiness: Readiness


# --- datasets -------------------------------------------------------------------------

DatasetType = Literal["supervised", "preference"]
ExportFormat = Literal["jsonl", "huggingface"]


class DatasetFilter(Model):
    """Which feedback a dataset takes. ``None`` means "no constraint" for every field."""

    min_rating: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    max_rating: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    required_tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    excluded_tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    adapter_id: Id | Literal["base"] | None = None
    start_date: date | None = None
    end_date: date | None = None
    rater_ids: Annotated[list[Id], Field(max_length=100)] = []
    min_raters: Annotated[int, Field(ge=1, le=1000, strict=True)] | None = None
    aggregate: Literal["rating", "clip"] = "rating"

    @model_validator(mode="after")
    def _consistent(self) -> DatasetFilter:
        if self.min_rating and self.max_rating and self.min_rating > self.max_rating:
            raise ValueError("min_rating must not exceed max_rating")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        both = set(self.required_tags) & set(self.excluded_tags)
        if both:
            raise ValueError(f"tags both required and excluded: {', '.join(sorted(both))}")
        self.required_tags = sorted(set(self.required_tags))
        self.excluded_tags = sorted(set(self.excluded_tags))
        self.rater_ids = sorted(set(self.rater_ids))
        return self


class DatasetPreviewRequest(Model):
    type: DatasetType = "supervised"
    filter: DatasetFilter = DatasetFilter()


class DatasetPreview(Model):
    count: int


class DatasetCreate(Model):
    name: Name
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    type: DatasetType = "supervised"
    filter: DatasetFilter = DatasetFilter()


class ExportPublic(Model):
    dataset_id: int
    format: ExportFormat
    export_path: str
    sample_count: int
    manifest_sha256: str
    train_command: str
    created_at: UTCDateTime


class DatasetPublic(Model):
    id: int
    name: str
    description: str | None
    type: DatasetType
    filter: DatasetFilter
    sample_count: int
    created_at: UTCDateTime
    updated_at: UTCDateTime
    exports: list[ExportPublic]
    adapter_count: int = 0


class DatasetStats(Model):
    dataset_id: int
    sample_count: int
    rating_distribution: dict[str, int]
    unique_prompts: int
    samples_by_adapter: dict[str, int]
    tag_frequencies: dict[str, int]


class ExportRequest(Model):
    format: ExportFormat = "jsonl"


# --- adapters -------------------------------------------------------------------------

AdapterStatus = Literal["all", "active", "inactive"]


class AdapterCreate(Model):
    name: Name
    version: Annotated[str, Field(max_length=64, pattern=SEMVER_RE)] = "1.0.0"
    path: Annotated[str, Field(min_length=1, max_length=1000)]
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    base_model: Annotated[CleanStr, Field(min_length=1, max_length=500)] | None = None
    dataset_id: Id | None = None
    manifest_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    training_config: dict[str, Any] = {}
    report: dict[str, Any] = {}
    is_active: bool = False

    @field_validator("training_config", "report")
    @classmethod
    def _finite_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value, depth=0)
        return value


class AdapterUpdate(Model):
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    is_active: bool | None = None


class AdapterUsage(Model):
    samples_generated: int
    ratings: int
    average_rating: float | None
    preference_wins: int
    preference_losses: int
    preference_win_rate: float | None


class AdapterVerdict(Model):
    """The latest completed blind evaluation of an adapter against the base model."""

    verdict: Literal["none", "better", "worse", "inconclusive"] = "none"
    evaluation_id: int | None = None
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    votes: int = 0


class AdapterPublic(Model):
    id: int
    name: str
    version: str
    description: str | None
    base_model: str
    path: str
    dataset_id: int | None
    dataset_name: str | None = None
    manifest_sha256: str | None
    training_config: dict[str, Any]
    report: dict[str, Any]
    is_active: bool
    compatible: bool = True
    created_at: UTCDateTime
    updated_at: UTCDateTime
    evaluation: AdapterVerdict = AdapterVerdict()
    forced_activation_reason: str | None = None
    forced_activation_at: UTCDateTime | None = None


class AdapterDetail(AdapterPublic):
    usage: AdapterUsage


# --- health ---------------------------------------------------------------------------


class ModelStatus(Model):
    base_model: str
    status: Literal["not_loaded", "loading", "ready", "failed"]
    device: str | None = None
    error: str | None = None


class Health(Model):
    status: Literal["ok", "degraded"]
    version: str
    database: bool
    model: ModelStatus
    worker: bool
    mode: Literal["embedded", "broker"] = "embedded"  # broker: Celery workers generate and train (TD_BROKER_URL)
    workers: list[WorkerInfo] = Field(default_factory=list)


def _check_json(value: Any, depth: int) -> None:
    if depth > 10:
        raise ValueError("nested too deeply (max 10 levels)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain NaN or Infinity")
    if isinstance(value, dict):
        if len(value) > 500:
            raise ValueError("too many keys (max 500)")
        for item in value.values():
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        if len(value) > 1000:
            raise ValueError("list too long (max 1000)")
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, str) and len(value) > 10_000:
        raise ValueError("string too long (max 10000)")


def slugify(name: str) -> str:
    """A filesystem-safe form of a user-chosen name (never a path)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "dataset"
    return slug[:80]



AudioPublic.model_rebuild()


# --- leaderboard ----------------------------------------------------------------------


class LeaderboardEntry(Model):
    """One model on the leaderboard. ``strength`` is its Bradley–Terry log-strength, centred
    on the mean of the models that played: P(a beats b) = 1 / (1 + exp(strength_b − strength_a)).
    ``ci_low``/``ci_high`` bound it (bootstrap); all three are None for a model without games."""

    rank: int | None
    adapter_id: int | None  # None: the base model
    label: str  # "base", "name@version", or "adapter #N (deleted)"
    is_active: bool | None = None  # None for the base model and deleted adapters
    deleted: bool = False
    strength: float | None
    ci_low: float | None
    ci_high: float | None
    games: int
    wins: int
    losses: int
    win_rate: float | None  # wins / games, the raw record
    component: int | None  # connected group of compared models (0 = the largest); None without games


class Leaderboard(Model):
    items: list[LeaderboardEntry]
    games: int  # non-tie preference pairs between clips of two different models (all of them fitted)
    ties: int  # tie pairs between different models: counted, not fitted
    connected: bool  # False: some models were never compared, even indirectly; their strengths are not comparable
    confidence: float
    bootstrap_rounds: int
    regularization: float

# --- raters, history, the listening queue, data quality (issue 11) ---------------------


class RaterCreate(Model):
    name: Name


class RaterPublic(Model):
    id: int
    name: str
    created_at: UTCDateTime
    rating_count: int = 0
    preference_count: int = 0


class JobSummary(Model):
    """A history entry: a job with its prompt, adapter and clips."""

    id: int
    status: JobStatus
    prompt: PromptPublic
    adapter_id: int | None
    adapter_label: str
    num_samples: int
    params: dict[str, Any]
    audio_ids: list[int]
    seeds: list[int] = []
    stream_urls: list[str] = []
    error: str | None
    created_at: UTCDateTime
    finished_at: UTCDateTime | None


class AudioListItem(AudioBrief):
    prompt_id: int
    rating_count: int


class QueueClip(Model):
    """The next clip for a rater, blind: nothing in it names or hints at the adapter."""

    audio_id: int
    stream_url: str
    duration: float
    sample_rate: int
    prompt: PromptPublic
    rating_count: int
    target: int


class QueueClipRevealed(QueueClip):
    adapter_id: int | None
    adapter_label: str


class QueueSummary(Model):
    rater_id: int
    target: int
    remaining: int
    rated_today: int
    rated_total: int


class Agreement(Model):
    level: Literal["ordinal"] = "ordinal"
    alpha: float | None
    clips: int
    ratings: int
    raters: int


class RaterQuality(Model):
    rater_id: int
    name: str
    ratings: int
    mean_rating: float | None
    shared_clips: int
    mean_distance: float | None
    outlier: bool
    preferences: int
    preferences_checked: int
    contradictions: int
    contradiction_rate: float | None
    intransitive_triads: int


class CoverageBucket(Model):
    kind: Literal["style", "mood", "tag", "adapter"]
    value: str
    eligible: int
    ratings: int


class Coverage(Model):
    min_rating: int
    by_style: dict[str, int]
    by_mood: dict[str, int]
    by_tag: dict[str, int]
    by_adapter: dict[str, int]
    thinnest: list[CoverageBucket]
    notes: list[str]


class FeedbackQuality(Model):
    agreement: Agreement
    raters: list[RaterQuality]
    outlier_distance: float | None
    contradictions: int
    preferences_checked: int
    intransitive_triads: int
    coverage: Coverage
# --- training runs --------------------------------------------------------------------

RunTask = Literal["sft", "dpo"]
RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
RunPreset = Literal["quick", "standard", "thorough"]
RUN_SERIES = ("loss", "eval_loss", "learning_rate", "grad_norm", "reward_margin", "reward_accuracy")


class RunCreate(Model):
    dataset_id: Id
    task: RunTask
    preset: RunPreset = "standard"
    config: dict[str, Any] = {}
    name: Name | None = None

    @field_validator("config")
    @classmethod
    def _finite_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value, depth=0)
        return value


class RunPublic(Model):
    id: int
    name: str
    dataset_id: int
    dataset_name: str
    task: RunTask
    status: RunStatus
    config: dict[str, Any]
    progress: float
    step: int
    total_steps: int
    best_eval_loss: float | None
    eta_seconds: float | None
    adapter_id: int | None
    error: str | None
    command: str
    output_dir: str
    attempts: int
    cancel_requested: bool
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None


class RunMetrics(Model):
    run_id: int
    last_step: int
    points: int  # how many steps are stored (before downsampling)
    series: dict[str, list[tuple[int, float]]]


class RunLogs(Model):
    text: str
    next_offset: int
    complete: bool


class RunOption(Model):
    name: str  # the API's key in ``config``
    flag: str  # the CLI flag
    kind: Literal["int", "float", "list"]
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    help: str
    tasks: list[RunTask]
    choices: list[str] = []


class RunPresetInfo(Model):
    name: RunPreset
    description: str
    config: dict[str, Any]


class RunOptions(Model):
    presets: list[RunPresetInfo]
    options: list[RunOption]


# --- blind evaluations (issue 12) ---------------------------------------------------------

EvaluationStatus = Literal["generating", "voting", "completed", "cancelled"]
VoteChoice = Literal["first", "second", "tie"]
MAX_REASON_CHARS = 500


class EvaluationCreate(Model):
    candidate_id: Id
    baseline_id: Id | None = None  # None: the base model
    num_prompts: Annotated[int, Field(ge=5, le=200, strict=True)] = 20
    prompt_ids: Annotated[list[Id], Field(min_length=5, max_length=200)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)] | None = None
    votes_per_pair: Annotated[int, Field(ge=1, le=20, strict=True)] = 1
    duration: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] = 5.0

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationCreate:
        if self.baseline_id is not None and self.baseline_id == self.candidate_id:
            raise ValueError("baseline_id must differ from candidate_id (null compares with the base model)")
        if self.prompt_ids is not None:
            if len(set(self.prompt_ids)) != len(self.prompt_ids):
                raise ValueError("prompt_ids lists a prompt more than once")
            if "num_prompts" in self.model_fields_set and self.num_prompts != len(self.prompt_ids):
                raise ValueError("num_prompts must equal the number of prompt_ids (or be left out)")
            self.num_prompts = len(self.prompt_ids)
        return self


class EvaluationPublic(Model):
    id: int
    candidate_id: int
    baseline_id: int | None
    candidate_label: str
    baseline_label: str
    status: EvaluationStatus
    pairs_total: int
    pairs_ready: int
    pairs_failed: int
    clips_ready: int
    votes: int
    votes_per_pair: int
    seed: int
    params: dict[str, Any]
    verdict: Literal["better", "worse", "inconclusive"] | None  # frozen once completed
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    candidate_wins: int  # live tallies; the verdict fields above are frozen at completion
    baseline_wins: int
    ties: int
    created_at: UTCDateTime
    finished_at: UTCDateTime | None


class RaterTally(Model):
    rater_id: int
    name: str
    candidate_wins: int
    baseline_wins: int
    ties: int


class EvaluationResult(Model):
    """Ties are excluded from the win rate; the interval is Wilson's at 95%, the p-value the
    two-sided exact binomial (sign) test against 0.5. Provisional until the status is completed."""

    candidate_wins: int
    baseline_wins: int
    ties: int
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: Literal["better", "worse", "inconclusive"]
    final: bool
    first_side_share: float | None  # share of non-tie votes for the clip played first
    first_side_ci_low: float | None
    first_side_ci_high: float | None
    per_rater: list[RaterTally]


class EvaluationDetail(EvaluationPublic):
    prompt_ids: list[int]
    result: EvaluationResult


class EvaluationClip(Model):
    stream_url: str


class EvaluationPairBlind(Model):
    """A pair for one rater: nothing in it names or hints at the model behind either clip."""

    evaluation_id: int
    pair_id: int
    prompt_text: str
    first: EvaluationClip
    second: EvaluationClip
    voted: int  # this rater's votes in this evaluation
    ready: int  # pairs with both clips


class EvaluationVoteCreate(Model):
    pair_id: Id
    rater_id: Id
    choice: VoteChoice


class EvaluationVotePublic(Model):
    id: int
    evaluation_id: int
    pair_id: int
    rater_id: int
    choice: VoteChoice
    voted_at: UTCDateTime


class RaterProgress(Model):
    """Where one rater stands in an evaluation."""

    evaluation_id: int
    rater_id: int
    status: EvaluationStatus
    voted: int
    ready: int
    pairs_total: int


class ActivateRequest(Model):
    """Activation; ``force`` overrides the evaluation gate and needs a reason that is kept."""

    force: bool = False
    reason: Annotated[CleanStr, StringConstraints(strip_whitespace=True, max_length=MAX_REASON_CHARS)] | None = None

    @model_validator(mode="after")
    def _reason(self) -> ActivateRequest:
        if self.force and not self.reason:
            raise ValueError("a forced activation needs a reason (1-500 characters)")
        if self.reason and not self.force:
            raise ValueError("reason goes with force: true")
        return self


# -- scale-out: training runs on Celery workers (/api/worker/runs/*) ---------------------------


class WorkerRunClaimRequest(Model):
    """``POST /api/worker/runs/{id}/claim`` takes an empty object."""


class WorkerRunClaim(Model):
    """A claimed run: everything a worker needs to start or continue it."""

    attempt: int
    run_id: int
    name: str
    task: str
    config: dict[str, Any]
    base_model: str
    sample_count: int
    total_steps: int
    checkpoint_step: int | None = None


class WorkerRunProgress(Model):
    """New metric records (as in metrics.jsonl) and new log text (whole lines) of an attempt."""

    attempt: int = Field(ge=1, le=MAX_ID)
    records: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)
    log: str = Field(default="", max_length=1_048_576)


class WorkerRunCancel(Model):
    cancel: bool


class WorkerRunCheckpoint(Model):
    checkpoint_step: int


class WorkerRunResult(Model):
    adapter_id: int


class WorkerRunFinish(Model):
    """How an attempt ended: failed / cancelled, or queued (handed back: continue elsewhere)."""

    attempt: int = Field(ge=1, le=MAX_ID)
    status: Literal["failed", "cancelled", "queued"]
    error: str | None = Field(default=None, max_length=20_000)


class WorkerRunFinished(Model):
    ok: bool = True


# --- scale-out: worker registry -----------------------------------------------------------

WorkerModelStatus = Literal["not_loaded", "loading", "ready", "failed"]


class WorkerHeartbeat(Model):
    """What a worker process reports every few seconds; ``jobs``/``runs`` are [id, attempt] leases it holds."""

    name: str = Field(min_length=1, max_length=255)
    queues: list[Literal["generate", "train"]] = Field(min_length=1, max_length=2)
    base_model: str = Field(max_length=1000)
    device: str | None = Field(default=None, max_length=64)
    model_status: WorkerModelStatus = "not_loaded"
    error: str | None = Field(default=None, max_length=8000)
    jobs: list[tuple[Annotated[int, Field(ge=1, le=MAX_ID)], Annotated[int, Field(ge=1, le=1_000_000)]]] = Field(
        default_factory=list, max_length=64)
    runs: list[tuple[Annotated[int, Field(ge=1, le=MAX_ID)], Annotated[int, Field(ge=1, le=1_000_000)]]] = Field(
        default_factory=list, max_length=64)


class WorkerInfo(Model):
    name: str
    queues: list[str]
    base_model: str
    device: str | None
    model_status: str
    error: str | None
    current: str | None
    last_seen_s: float


# --- scale-out: the worker endpoints for generation jobs (/api/worker/jobs/*) ------------

Attempt = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
MAX_WORKER_ERROR_CHARS = 4000


class WorkerJobClaim(Model):
    """The claim's body: ``{}`` (the worker's name comes from the X-TD-Worker header)."""


class WorkerAdapterRef(Model):
    """The adapter a claimed job generates with; ``key`` changes whenever its files are re-saved."""

    id: int
    base_model: str
    key: str | None


class WorkerJobClaimed(Model):
    """Everything a worker needs to run a job; every later call carries ``attempt``."""

    attempt: int
    job_id: int
    prompt_text: str
    prompt_attributes: dict[str, Any]
    num_samples: int
    params: dict[str, Any]
    seeds: list[int]
    base_model: str
    adapter: WorkerAdapterRef | None


class WorkerJobProgress(Model):
    attempt: Attempt
    progress: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class WorkerJobCancel(Model):
    """``cancel``: the user asked to stop; the worker reports ``/cancelled`` and drops its clips."""

    cancel: bool


class WorkerJobAttempt(Model):
    attempt: Attempt


class WorkerJobFail(Model):
    attempt: Attempt
    error: Annotated[CleanStr, StringConstraints(min_length=1, max_length=MAX_WORKER_ERROR_CHARS)]


class WorkerClip(Model):
    """A stored clip as the app measured it."""

    file_path: str
    duration: float
    sample_rate: int


class WorkerJobCompleted(Model):
    audio_ids: list[int]


class WorkerJobFinished(Model):
    status: JobStatus
