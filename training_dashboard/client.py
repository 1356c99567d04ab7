"""The async API client: the only road from the UI and the training CLI to data.

Example:
    async with ApiClient("http://127.0.0.1:8000/api", token=os.environ["TD_API_TOKEN"]) as api:
        stats = await api.feedback_stats()

Credentials: ``token=`` a personal access token (``td_...``, sent as ``Authorization: Bearer``), or
``session=`` the secret of a ``td_session`` cookie (the UI's server side acting as the signed-in
user; sent with an ``Origin`` of the API's own, which the CSRF check of cookie writes accepts).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter

from training_dashboard import schemas

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """Any failed call: ``status`` is the HTTP status (0 when the API was unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status, self.message = status, message


class ApiClient:
    """One method per endpoint, each returning the API's own pydantic models."""

    def __init__(self, base_url: str, *, token: str | None = None, session: str | None = None,
                 timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if session:
            parts = urlsplit(base_url)
            headers["Cookie"] = f"td_session={session}"
            headers["Origin"] = f"{parts.scheme}://{parts.netloc}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url + "/", headers=headers, timeout=timeout,
                                       transport=transport)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    headers: dict[str, str] | None = None, timeout: float | None = None) -> httpx.Response:
        try:
            response = await self._http.request(method, path.lstrip("/"), json=json, params=params, headers=headers,
                                                 timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)
        except httpx.TimeoutException as exc:
            raise ApiError(0, f"The API at {self.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise ApiError(0, f"Cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text or response.reason_phrase
            raise ApiError(response.status_code, str(detail))
        return response

    async def _get(self, model: type[M], path: str, params: Any = None) -> M:
        return model.model_validate((await self._call("GET", path, params=params)).json())

    async def _send(self, model: type[M], method: str, path: str, body: BaseModel | None = None) -> M:
        payload = body.model_dump(mode="json", exclude_unset=False) if body is not None else None
        return model.model_validate((await self._call(method, path, json=payload)).json())

    # prompts
    async def create_prompt(self, body: schemas.PromptCreate) -> schemas.PromptPublic:
        return await self._send(schemas.PromptPublic, "POST", "prompts", body)

    async def get_prompt(self, prompt_id: int) -> schemas.PromptDetail:
        return await self._get(schemas.PromptDetail, f"prompts/{prompt_id}")

    # the prompt library
    async def search_prompts(self, query: schemas.PromptQuery) -> schemas.Page[schemas.PromptHit]:
        params = {k: (str(v).lower() if isinstance(v, bool) else v)
                  for k, v in query.model_dump(exclude_none=True).items()}
        return await self._get(schemas.Page[schemas.PromptHit], "prompts", params)

    async def prompt_facets(self) -> schemas.PromptFacets:
        return await self._get(schemas.PromptFacets, "prompts/facets")

    async def set_favourite(self, prompt_id: int, favourite: bool = True) -> schemas.FavouriteState:
        return await self._send(schemas.FavouriteState, "PUT" if favourite else "DELETE",
                                f"prompts/{prompt_id}/favourite")

    async def list_templates(self, page: int = 1, limit: int = 200) -> schemas.Page[schemas.TemplatePublic]:
        return await self._get(schemas.Page[schemas.TemplatePublic], "templates", {"page": page, "limit": limit})

    async def create_template(self, body: schemas.TemplateCreate) -> schemas.TemplatePublic:
        return await self._send(schemas.TemplatePublic, "POST", "templates", body)

    async def update_template(self, template_id: int, body: schemas.TemplatePatch) -> schemas.TemplatePublic:
        payload = body.model_dump(mode="json", exclude_unset=True)
        response = await self._call("PATCH", f"templates/{template_id}", json=payload)
        return schemas.TemplatePublic.model_validate(response.json())

    async def delete_template(self, template_id: int) -> None:
        await self._call("DELETE", f"templates/{template_id}")

    # generation
    async def generate(self, body: schemas.GenerateRequest) -> schemas.JobPublic:
        return await self._send(schemas.JobPublic, "POST", "generate", body)

    async def get_job(self, job_id: int) -> schemas.JobPublic:
        return await self._get(schemas.JobPublic, f"generate/{job_id}")

    async def cancel_job(self, job_id: int) -> schemas.JobPublic:
        return await self._send(schemas.JobPublic, "DELETE", f"generate/{job_id}")

    # audio
    async def get_audio(self, audio_id: int) -> schemas.AudioPublic:
        return await self._get(schemas.AudioPublic, f"audio/{audio_id}")

    async def stream_audio(self, audio_id: int, byte_range: tuple[int, int] | None = None) -> bytes:
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else None
        return (await self._call("GET", f"audio/{audio_id}/stream", headers=headers)).content

    # feedback
    async def submit_feedback(self, body: schemas.FeedbackCreate) -> schemas.FeedbackPublic:
        return await self._send(schemas.FeedbackPublic, "POST", "feedback", body)

    async def submit_preference(self, body: schemas.PreferenceCreate) -> schemas.PreferencePublic:
        return await self._send(schemas.PreferencePublic, "POST", "preferences", body)

    async def submit_ranking(self, body: schemas.RankingCreate) -> list[schemas.PreferencePublic]:
        response = await self._call("POST", "preferences/ranking", json=body.model_dump(mode="json"))
        return TypeAdapter(list[schemas.PreferencePublic]).validate_python(response.json())

    async def list_feedback(self, *, page: int = 1, limit: int = 50, audio_id: int | None = None,
                            prompt_id: int | None = None, adapter_id: int | str | None = None,
                            min_rating: int | None = None, max_rating: int | None = None,
                            tags: list[str] | None = None, start_date: date | None = None,
                            end_date: date | None = None) -> schemas.Page[schemas.FeedbackPublic]:
        params = {k: v for k, v in {
            "page": page, "limit": limit, "audio_id": audio_id, "prompt_id": prompt_id, "adapter_id": adapter_id,
            "min_rating": min_rating, "max_rating": max_rating, "tags": tags or None,
            "start_date": start_date.isoformat() if start_date else None,
            "end_date": end_date.isoformat() if end_date else None,
        }.items() if v is not None}
        return await self._get(schemas.Page[schemas.FeedbackPublic], "feedback", params)

    async def feedback_stats(self) -> schemas.FeedbackStats:
        return await self._get(schemas.FeedbackStats, "feedback/stats")

    async def listening_policy(self) -> schemas.ListeningPolicy:
        """The listen gate (TD_MIN_LISTEN): all fields None when it is off."""
        return await self._get(schemas.ListeningPolicy, "listening/policy")

    # datasets
    async def preview_dataset(self, body: schemas.DatasetPreviewRequest) -> schemas.DatasetPreview:
        return await self._send(schemas.DatasetPreview, "POST", "datasets/preview", body)

    async def create_dataset(self, body: schemas.DatasetCreate) -> schemas.DatasetPublic:
        return await self._send(schemas.DatasetPublic, "POST", "datasets", body)

    async def list_datasets(self, page: int = 1, limit: int = 20) -> schemas.Page[schemas.DatasetPublic]:
        return await self._get(schemas.Page[schemas.DatasetPublic], "datasets", {"page": page, "limit": limit})

    async def get_dataset(self, dataset_id: int) -> schemas.DatasetPublic:
        return await self._get(schemas.DatasetPublic, f"datasets/{dataset_id}")

    async def dataset_stats(self, dataset_id: int) -> schemas.DatasetStats:
        return await self._get(schemas.DatasetStats, f"datasets/{dataset_id}/stats")

    async def export_dataset(self, dataset_id: int, fmt: schemas.ExportFormat = "jsonl") -> schemas.ExportPublic:
        return await self._send(schemas.ExportPublic, "POST", f"datasets/{dataset_id}/export",
                                schemas.ExportRequest(format=fmt))

    async def delete_dataset(self, dataset_id: int, cancel_runs: bool = False) -> None:
        """Delete a dataset; 409 (``ApiError``) naming its queued and running training runs, if any.

        Args:
            dataset_id: The dataset.
            cancel_runs: Cancel those runs first (as their Cancel button does) and delete once they have
                stopped; the API waits up to 20 s for a running one to finish its current step.
        """
        params = {"cancel_runs": "true"} if cancel_runs else None
        await self._call("DELETE", f"datasets/{dataset_id}", params=params, timeout=90.0 if cancel_runs else None)

    # adapters
    async def register_adapter(self, body: schemas.AdapterCreate) -> schemas.AdapterPublic:
        return await self._send(schemas.AdapterPublic, "POST", "adapters", body)

    async def list_adapters(self, status: schemas.AdapterStatus = "all", base_model: str | None = None,
                            page: int = 1, limit: int = 50) -> schemas.Page[schemas.AdapterPublic]:
        params: dict[str, Any] = {"status": status, "page": page, "limit": limit}
        if base_model:
            params["base_model"] = base_model
        return await self._get(schemas.Page[schemas.AdapterPublic], "adapters", params)

    async def get_adapter(self, adapter_id: int) -> schemas.AdapterDetail:
        return await self._get(schemas.AdapterDetail, f"adapters/{adapter_id}")

    async def update_adapter(self, adapter_id: int, body: schemas.AdapterUpdate) -> schemas.AdapterDetail:
        payload = body.model_dump(mode="json", exclude_none=True)
        response = await self._call("PATCH", f"adapters/{adapter_id}", json=payload)
        return schemas.AdapterDetail.model_validate(response.json())

    async def activate_adapter(self, adapter_id: int, *, force: bool = False,
                               reason: str | None = None) -> schemas.AdapterDetail:
        """Activate; ``force`` with a ``reason`` overrides the evaluation gate (TD_REQUIRE_EVALUATION)."""
        body = schemas.ActivateRequest(force=True, reason=reason) if force else None
        return await self._send(schemas.AdapterDetail, "POST", f"adapters/{adapter_id}/activate", body)

    async def deactivate_adapter(self, adapter_id: int) -> schemas.AdapterDetail:
        return await self._send(schemas.AdapterDetail, "POST", f"adapters/{adapter_id}/deactivate")

    async def delete_adapter(self, adapter_id: int) -> None:
        await self._call("DELETE", f"adapters/{adapter_id}")

    # health
    async def health(self) -> schemas.Health:
        return await self._get(schemas.Health, "health")

    # leaderboard
    async def leaderboard(self, include_deleted: bool = False) -> schemas.Leaderboard:
        return await self._get(schemas.Leaderboard, "leaderboard", {"include_deleted": include_deleted})

    # raters, history, the listening queue, data quality
    async def create_rater(self, body: schemas.RaterCreate) -> schemas.RaterPublic:
        return await self._send(schemas.RaterPublic, "POST", "raters", body)

    async def list_raters(self) -> list[schemas.RaterPublic]:
        response = await self._call("GET", "raters")
        return TypeAdapter(list[schemas.RaterPublic]).validate_python(response.json())

    async def list_jobs(self, status: schemas.JobStatus | None = None, page: int = 1,
                        limit: int = 20) -> schemas.Page[schemas.JobSummary]:
        params: dict[str, Any] = {"page": page, "limit": limit}
        if status:
            params["status"] = status
        return await self._get(schemas.Page[schemas.JobSummary], "generate", params)

    async def list_audio(self, *, prompt_id: int | None = None, adapter_id: int | str | None = None,
                         rated_by: int | None = None, not_rated_by: int | None = None, page: int = 1,
                         limit: int = 50) -> schemas.Page[schemas.AudioListItem]:
        params = {k: v for k, v in {"prompt_id": prompt_id, "adapter_id": adapter_id, "rated_by": rated_by,
                                    "not_rated_by": not_rated_by, "page": page, "limit": limit}.items()
                  if v is not None}
        return await self._get(schemas.Page[schemas.AudioListItem], "audio", params)

    async def next_clip(self, rater_id: int | None = None, *, blind: bool = True, adapter_id: int | str | None = None,
                        prompt_id: int | None = None, exclude: list[int] | None = None) -> schemas.QueueClip | None:
        """The next clip for a rater (``QueueClipRevealed`` when not blind); None when none is left."""
        params: dict[str, Any] = {"blind": str(blind).lower()}
        if rater_id is not None:  # sign-in on: yourself by default
            params["rater_id"] = rater_id
        if adapter_id is not None:
            params["adapter_id"] = adapter_id
        if prompt_id is not None:
            params["prompt_id"] = prompt_id
        if exclude:
            params["exclude"] = exclude[-100:]
        response = await self._call("GET", "queue/next", params=params)
        if response.status_code == 204:
            return None
        model = schemas.QueueClip if blind else schemas.QueueClipRevealed
        return model.model_validate(response.json())

    async def queue_summary(self, rater_id: int | None = None) -> schemas.QueueSummary:
        return await self._get(schemas.QueueSummary, "queue/summary", _rater(rater_id))

    async def feedback_quality(self) -> schemas.FeedbackQuality:
        return await self._get(schemas.FeedbackQuality, "feedback/quality")
    # training runs
    async def run_options(self) -> schemas.RunOptions:
        return await self._get(schemas.RunOptions, "runs/options")

    async def create_run(self, body: schemas.RunCreate) -> schemas.RunPublic:
        return await self._send(schemas.RunPublic, "POST", "runs", body)

    async def list_runs(self, status: schemas.RunStatus | None = None, dataset_id: int | None = None,
                        page: int = 1, limit: int = 20) -> schemas.Page[schemas.RunPublic]:
        params: dict[str, Any] = {"page": page, "limit": limit}
        if status:
            params["status"] = status
        if dataset_id is not None:
            params["dataset_id"] = dataset_id
        return await self._get(schemas.Page[schemas.RunPublic], "runs", params)

    async def get_run(self, run_id: int) -> schemas.RunPublic:
        return await self._get(schemas.RunPublic, f"runs/{run_id}")

    async def run_metrics(self, run_id: int, since_step: int = 0, max_points: int = 500) -> schemas.RunMetrics:
        return await self._get(schemas.RunMetrics, f"runs/{run_id}/metrics",
                               {"since_step": since_step, "max_points": max_points})

    async def run_logs(self, run_id: int, offset: int = 0, limit: int = 65_536,
                       tail: int | None = None) -> schemas.RunLogs:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if tail is not None:
            params["tail"] = tail
        return await self._get(schemas.RunLogs, f"runs/{run_id}/logs", params)

    async def cancel_run(self, run_id: int) -> schemas.RunPublic:
        return await self._send(schemas.RunPublic, "POST", f"runs/{run_id}/cancel")

    async def resume_run(self, run_id: int) -> schemas.RunPublic:
        return await self._send(schemas.RunPublic, "POST", f"runs/{run_id}/resume")

    async def delete_run(self, run_id: int) -> None:
        await self._call("DELETE", f"runs/{run_id}")

    # blind evaluations
    async def create_evaluation(self, body: schemas.EvaluationCreate) -> schemas.EvaluationDetail:
        payload = body.model_dump(mode="json", exclude_unset=True)
        response = await self._call("POST", "evaluations", json=payload)
        return schemas.EvaluationDetail.model_validate(response.json())

    async def list_evaluations(self, *, adapter_id: int | None = None, status: schemas.EvaluationStatus | None = None,
                               page: int = 1, limit: int = 20) -> schemas.Page[schemas.EvaluationPublic]:
        params = {k: v for k, v in {"adapter_id": adapter_id, "status": status, "page": page,
                                    "limit": limit}.items() if v is not None}
        return await self._get(schemas.Page[schemas.EvaluationPublic], "evaluations", params)

    async def get_evaluation(self, evaluation_id: int, min_heard: float | None = None) -> schemas.EvaluationDetail:
        """An evaluation; with ``min_heard`` (0..1) also its verdict from attentive votes only."""
        params = {"min_heard": min_heard} if min_heard is not None else None
        return await self._get(schemas.EvaluationDetail, f"evaluations/{evaluation_id}", params)

    async def evaluation_pairs(self, evaluation_id: int) -> list[schemas.EvaluationPairDetail]:
        """Every pair of a completed evaluation with its votes unblinded (reasons included)."""
        response = await self._call("GET", f"evaluations/{evaluation_id}/pairs")
        return TypeAdapter(list[schemas.EvaluationPairDetail]).validate_python(response.json())

    async def plan_evaluation(self, pairs: int, expected_win_rate: float | None = None) -> schemas.EvaluationPlan:
        """What ``pairs`` pairs can detect, and the pairs a win rate of ``expected_win_rate`` needs."""
        params: dict[str, float] = {"pairs": pairs}
        if expected_win_rate is not None:
            params["expected_win_rate"] = expected_win_rate
        return await self._get(schemas.EvaluationPlan, "evaluations/plan", params)

    async def cancel_evaluation(self, evaluation_id: int) -> schemas.EvaluationDetail:
        return await self._send(schemas.EvaluationDetail, "POST", f"evaluations/{evaluation_id}/cancel")

    async def next_evaluation_pair(self, evaluation_id: int,
                                   rater_id: int | None = None) -> schemas.EvaluationPairBlind | None:
        """The next blind pair for a rater; None when nothing is left for them."""
        response = await self._call("GET", f"evaluations/{evaluation_id}/next", params=_rater(rater_id))
        if response.status_code == 204:
            return None
        return schemas.EvaluationPairBlind.model_validate(response.json())

    async def evaluation_progress(self, evaluation_id: int, rater_id: int | None = None) -> schemas.RaterProgress:
        return await self._get(schemas.RaterProgress, f"evaluations/{evaluation_id}/progress", _rater(rater_id))

    async def vote(self, evaluation_id: int, body: schemas.EvaluationVoteCreate) -> schemas.EvaluationVotePublic:
        return await self._send(schemas.EvaluationVotePublic, "POST", f"evaluations/{evaluation_id}/votes", body)

    # sign-in and accounts
    async def login(self, username: str, password: str) -> tuple[schemas.UserPublic, str]:
        """Sign in; the user and the new session's secret (also kept by this client for its next calls)."""
        response = await self._call("POST", "auth/login", json={"username": username, "password": password})
        secret = response.cookies.get("td_session") or ""
        if secret:
            parts = urlsplit(self.base_url)
            self._http.headers["Cookie"] = f"td_session={secret}"
            self._http.headers["Origin"] = f"{parts.scheme}://{parts.netloc}"
        return schemas.UserPublic.model_validate(response.json()), secret

    async def logout(self) -> None:
        """End this client's session (the server forgets it)."""
        await self._call("POST", "auth/logout")
        self._http.headers.pop("Cookie", None)
        self._http.cookies.clear()

    async def me(self) -> schemas.Me:
        return await self._get(schemas.Me, "auth/me")

    async def setup_status(self, token: str | None = None) -> schemas.SetupStatus:
        return await self._get(schemas.SetupStatus, "auth/setup", {"token": token} if token else None)

    async def list_users(self) -> list[schemas.UserPublic]:
        return TypeAdapter(list[schemas.UserPublic]).validate_python((await self._call("GET", "users")).json())

    async def create_user(self, body: schemas.UserCreate) -> schemas.UserPublic:
        return await self._send(schemas.UserPublic, "POST", "users", body)

    async def update_user(self, user_id: int, body: schemas.UserUpdate) -> schemas.UserPublic:
        payload = body.model_dump(mode="json", exclude_unset=True)
        return schemas.UserPublic.model_validate((await self._call("PATCH", f"users/{user_id}", json=payload)).json())

    async def list_tokens(self, user_id: int | None = None) -> list[schemas.TokenPublic]:
        response = await self._call("GET", "tokens", params={"user_id": user_id} if user_id else None)
        return TypeAdapter(list[schemas.TokenPublic]).validate_python(response.json())

    async def create_token(self, body: schemas.TokenCreate, user_id: int | None = None) -> schemas.TokenCreated:
        """A personal access token (for yourself; an admin may name ``user_id``): the secret is shown once."""
        response = await self._call("POST", "tokens", json=body.model_dump(mode="json"),
                                    params={"user_id": user_id} if user_id else None)
        return schemas.TokenCreated.model_validate(response.json())

    async def revoke_token(self, token_id: int) -> None:
        await self._call("DELETE", f"tokens/{token_id}")

    async def list_audit(self, *, actor: str | None = None, action: str | None = None, since: datetime | None = None,
                         until: datetime | None = None, page: int = 1,
                         limit: int = 50) -> schemas.Page[schemas.AuditEventPublic]:
        params = {k: v for k, v in {"actor": actor, "action": action, "page": page, "limit": limit,
                                    "since": since.isoformat() if since else None,
                                    "until": until.isoformat() if until else None}.items() if v is not None}
        return await self._get(schemas.Page[schemas.AuditEventPublic], "audit", params)


def _rater(rater_id: int | None) -> dict[str, int] | None:
    return {"rater_id": rater_id} if rater_id is not None else None
