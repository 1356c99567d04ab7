from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from training_dashboard import schemas
from training_dashboard.api.deps import AS_TRAINER, DbDep, LimitQ, PageQ, SettingsDep, TrainerDep, actor_id, client_addr
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import audit, datasets, exports

router = APIRouter(prefix="/datasets", tags=["datasets"], dependencies=AS_TRAINER)
IdPath = Path(ge=1, le=MAX_ID)


@router.post("/preview", response_model=schemas.DatasetPreview)
def preview_dataset(body: schemas.DatasetPreviewRequest, db: DbDep) -> schemas.DatasetPreview:
    """How many samples (or pairs) a dataset with this filter would hold now."""
    return schemas.DatasetPreview(count=datasets.preview_count(db, body.type, body.filter))


@router.post("", status_code=201, response_model=schemas.DatasetPublic)
def create_dataset(body: schemas.DatasetCreate, db: DbDep, principal: TrainerDep) -> schemas.DatasetPublic:
    """Create a dataset: the matching feedback is frozen into a snapshot."""
    dataset = datasets.snapshot_dataset(db, body, created_by=actor_id(principal))
    return datasets.get_dataset(db, dataset.id or 0)


@router.get("", response_model=schemas.Page[schemas.DatasetPublic])
def read_datasets(db: DbDep, page: PageQ = 1, limit: LimitQ = 20) -> schemas.Page[schemas.DatasetPublic]:
    """List datasets, newest first."""
    return datasets.list_datasets(db, page, limit)


@router.get("/{dataset_id}", response_model=schemas.DatasetPublic)
def read_dataset(db: DbDep, dataset_id: int = IdPath) -> schemas.DatasetPublic:
    """One dataset with its exports."""
    return datasets.get_dataset(db, dataset_id)


@router.get("/{dataset_id}/stats", response_model=schemas.DatasetStats)
def read_dataset_stats(db: DbDep, dataset_id: int = IdPath) -> schemas.DatasetStats:
    """Rating distribution, unique prompts, per-adapter counts and tag frequencies."""
    return datasets.dataset_stats(db, dataset_id)


@router.post("/{dataset_id}/export", response_model=schemas.ExportPublic)
def export_dataset(body: schemas.ExportRequest, db: DbDep, settings: SettingsDep,
                   dataset_id: int = IdPath) -> schemas.ExportPublic:
    """Export the snapshot as JSONL or a Hugging Face dataset; returns the training command.

    Exports of one dataset run one at a time; one that starts after the dataset's delete gets 404.
    """
    return exports.export_dataset(db, settings.resolved_data_dir, settings.exports_dir, settings.base_model,
                                  dataset_id, body.format)


@router.delete("/{dataset_id}", status_code=204, response_class=Response)
def delete_dataset(
    request: Request, db: DbDep, settings: SettingsDep, principal: TrainerDep, dataset_id: int = IdPath,
    cancel_runs: Annotated[bool, Query(description="cancel the dataset's queued and running training runs "
                                                   "first, then delete")] = False,
) -> Response:
    """Delete a dataset, its snapshot and its exports (409 while an adapter was trained on it).

    409 naming them while training runs on it are queued or running, unless ``cancel_runs``: then
    they are cancelled (a running one stops after its current step) and the delete waits up to
    20 s for them to stop (409 if one is still stopping; delete again). Waits for a running export
    of the same dataset to finish (409 if it runs past 30 s).
    """
    datasets.delete_dataset(db, settings.exports_dir, dataset_id, cancel_runs=cancel_runs)
    audit.write(db, principal, "dataset.delete", f"dataset:{dataset_id}", {"cancel_runs": cancel_runs},
                client_addr(request))
    return Response(status_code=204)
