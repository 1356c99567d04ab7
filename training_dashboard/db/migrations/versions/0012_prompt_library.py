"""prompt library (issue 20): full-text search over prompts, per-prompt counters, favourites, templates.

The search index is each database's own full-text engine, kept in step with ``prompt`` by
triggers, so every writer (the API, the workers, a bulk load) updates it in its own
transaction, and this migration builds it for the prompts that exist:

- SQLite: an FTS5 table ``prompt_fts`` (rowid = prompt id; columns ``body`` = the text and
  ``attrs`` = style, mood and instruments), tokenizer ``unicode61 remove_diacritics 2``
  (case- and accent-insensitive), prefix indexes for 1-3 characters (search as you type).
- PostgreSQL: a ``search_vector`` tsvector column (text weight A, attributes weight B) with a
  GIN index, built by a trigger through ``unaccent`` (the contrib extension; trusted, so the
  database owner may create it) and the ``simple`` configuration (no stemming, no stop words:
  a prompt's words are what a person searches for).

``prompt_stats`` (one narrow row per prompt: clips, ratings, their sum and mean; what the library
sorts and filters by) is counted here for the existing prompts, then kept by triggers on
``prompt``, ``audio_sample`` and ``rating`` (row triggers: one indexed UPDATE per clip or rating;
on PostgreSQL 45 µs a single-row insert, where a statement trigger with a transition table cost
86). The counters live apart from ``prompt`` so that a rating rewrites a few numbers, not the
prompt's text, search vector and their index entries (on PostgreSQL every update writes a new
row version: the first try, counters on ``prompt``, grew the table to 358 MB for 20k prompts
over a million ratings).

A fresh install gets a few built-in templates; a team may delete them.

Revision ID: 0012
Revises: 0011
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TS = sqlmodel.sql.sqltypes.UTCDateTime
_STR = sqlmodel.sql.sqltypes.AutoString

BUILTIN_TEMPLATES = [
    ("Lo-fi study beat", "lo-fi hip hop beat in {key} with soft piano, dusty drums and vinyl crackle",
     "lo-fi hip hop", 80, ["piano", "drums", "bass"], "relaxed"),
    ("Cinematic build", "cinematic orchestral build-up in {key}: rising strings, brass swells and big drums",
     "cinematic", 100, ["strings", "brass", "timpani"], "epic"),
    ("Synthwave night drive", "retro synthwave with arpeggiated synths and gated drums, a {mood} night drive",
     "synthwave", 110, ["synth", "drums", "bass"], "nostalgic"),
    ("Acoustic folk", "gentle acoustic folk with fingerpicked guitar and a warm upright bass",
     "folk", 95, ["acoustic guitar", "upright bass"], "warm"),
    ("Ambient texture", "slow evolving ambient pads in {key} with distant {instrument} and soft noise",
     "ambient", 60, ["pads", "synth"], "calm"),
]

_ATTRS_SQLITE = ("coalesce(new.style, '') || ' ' || coalesce(new.mood, '') || ' ' || "
                 "coalesce((SELECT group_concat(value, ' ') FROM json_each(new.instruments)), '')")


def _sqlite_upgrade() -> None:
    op.execute("CREATE VIRTUAL TABLE prompt_fts USING fts5(body, attrs, "
               "tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3')")
    op.execute(f"CREATE TRIGGER prompt_fts_insert AFTER INSERT ON prompt BEGIN "
               f"INSERT INTO prompt_fts(rowid, body, attrs) VALUES (new.id, new.text, {_ATTRS_SQLITE}); END")
    op.execute(f"CREATE TRIGGER prompt_fts_update AFTER UPDATE OF text, style, mood, instruments ON prompt BEGIN "
               f"DELETE FROM prompt_fts WHERE rowid = old.id; "
               f"INSERT INTO prompt_fts(rowid, body, attrs) VALUES (new.id, new.text, {_ATTRS_SQLITE}); END")
    op.execute("CREATE TRIGGER prompt_fts_delete AFTER DELETE ON prompt BEGIN "
               "DELETE FROM prompt_fts WHERE rowid = old.id; END")
    op.execute(f"INSERT INTO prompt_fts(rowid, body, attrs) SELECT id, text, "
               f"{_ATTRS_SQLITE.replace('new.', 'prompt.')} FROM prompt")
    op.execute("CREATE TRIGGER prompt_stats_insert AFTER INSERT ON prompt BEGIN "
               "INSERT INTO prompt_stats (prompt_id, sample_count, rating_count, rating_sum, mean_rating) "
               "VALUES (new.id, 0, 0, 0, 0); END")
    op.execute("CREATE TRIGGER prompt_stats_delete AFTER DELETE ON prompt BEGIN "
               "DELETE FROM prompt_stats WHERE prompt_id = old.id; END")
    op.execute("CREATE TRIGGER prompt_count_sample AFTER INSERT ON audio_sample BEGIN "
               "UPDATE prompt_stats SET sample_count = sample_count + 1 WHERE prompt_id = new.prompt_id; END")
    op.execute("CREATE TRIGGER prompt_uncount_sample AFTER DELETE ON audio_sample BEGIN "
               "UPDATE prompt_stats SET sample_count = sample_count - 1 WHERE prompt_id = old.prompt_id; END")
    op.execute("CREATE TRIGGER prompt_count_rating AFTER INSERT ON rating BEGIN "
               "UPDATE prompt_stats SET rating_count = rating_count + 1, rating_sum = rating_sum + new.rating, "
               "mean_rating = (rating_sum + new.rating) * 1.0 / (rating_count + 1) "
               "WHERE prompt_id = new.prompt_id; END")
    op.execute("CREATE TRIGGER prompt_uncount_rating AFTER DELETE ON rating BEGIN "
               "UPDATE prompt_stats SET rating_count = rating_count - 1, rating_sum = rating_sum - old.rating, "
               "mean_rating = CASE WHEN rating_count > 1 THEN (rating_sum - old.rating) * 1.0 / (rating_count - 1) "
               "ELSE 0 END WHERE prompt_id = old.prompt_id; END")


_PG_SEARCH = """
CREATE FUNCTION td_prompt_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('simple', unaccent(coalesce(NEW.text, ''))), 'A') ||
    setweight(to_tsvector('simple', unaccent(coalesce(NEW.style, '') || ' ' || coalesce(NEW.mood, '') || ' ' ||
      coalesce((SELECT string_agg(v, ' ') FROM json_array_elements_text(NEW.instruments::json) AS v), ''))), 'B');
  RETURN NEW;
END $$
"""

_PG_COUNTERS = """
CREATE FUNCTION td_prompt_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO prompt_stats (prompt_id, sample_count, rating_count, rating_sum, mean_rating)
  VALUES (NEW.id, 0, 0, 0, 0);
  RETURN NULL;
END $$;
CREATE FUNCTION td_prompt_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM prompt_stats WHERE prompt_id = OLD.id;
  RETURN NULL;
END $$;
CREATE FUNCTION td_prompt_sample_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE prompt_stats SET sample_count = sample_count + 1 WHERE prompt_id = NEW.prompt_id;
  RETURN NULL;
END $$;
CREATE FUNCTION td_prompt_sample_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE prompt_stats SET sample_count = sample_count - 1 WHERE prompt_id = OLD.prompt_id;
  RETURN NULL;
END $$;
CREATE FUNCTION td_prompt_rating_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE prompt_stats SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating,
    mean_rating = (rating_sum + NEW.rating)::float / (rating_count + 1)
  WHERE prompt_id = NEW.prompt_id;
  RETURN NULL;
END $$;
CREATE FUNCTION td_prompt_rating_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE prompt_stats SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating,
    mean_rating = CASE WHEN rating_count > 1 THEN (rating_sum - OLD.rating)::float / (rating_count - 1) ELSE 0 END
  WHERE prompt_id = OLD.prompt_id;
  RETURN NULL;
END $$;
CREATE TRIGGER prompt_stats_insert AFTER INSERT ON prompt FOR EACH ROW EXECUTE FUNCTION td_prompt_added();
CREATE TRIGGER prompt_stats_delete AFTER DELETE ON prompt FOR EACH ROW EXECUTE FUNCTION td_prompt_removed();
CREATE TRIGGER prompt_count_sample AFTER INSERT ON audio_sample
  FOR EACH ROW EXECUTE FUNCTION td_prompt_sample_added();
CREATE TRIGGER prompt_uncount_sample AFTER DELETE ON audio_sample
  FOR EACH ROW EXECUTE FUNCTION td_prompt_sample_removed();
CREATE TRIGGER prompt_count_rating AFTER INSERT ON rating
  FOR EACH ROW EXECUTE FUNCTION td_prompt_rating_added();
CREATE TRIGGER prompt_uncount_rating AFTER DELETE ON rating
  FOR EACH ROW EXECUTE FUNCTION td_prompt_rating_removed();
"""


def _postgresql_upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'unaccent'")).scalar() == 0:
        raise RuntimeError("The prompt library's search needs PostgreSQL's unaccent extension (contrib): install "
                           "the server's contrib package (Debian's postgresql package has it) and start again")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.add_column("prompt", sa.Column("search_vector", sa.dialects.postgresql.TSVECTOR(), nullable=True))
    op.execute(_PG_SEARCH)
    op.execute("CREATE TRIGGER prompt_search BEFORE INSERT OR UPDATE OF text, style, mood, instruments ON prompt "
               "FOR EACH ROW EXECUTE FUNCTION td_prompt_search()")
    op.execute("UPDATE prompt SET text = text")  # the trigger builds the vector of every existing prompt
    op.execute("CREATE INDEX ix_prompt_search ON prompt USING gin (search_vector)")
    op.execute(_PG_COUNTERS)


def upgrade() -> None:
    op.create_table(
        "prompt_stats",
        sa.Column("prompt_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("mean_rating", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("prompt_id"),
    )
    op.execute("INSERT INTO prompt_stats (prompt_id, sample_count, rating_count, rating_sum, mean_rating) "
               "SELECT p.id, (SELECT count(*) FROM audio_sample s WHERE s.prompt_id = p.id), "
               "(SELECT count(*) FROM rating r WHERE r.prompt_id = p.id), "
               "(SELECT coalesce(sum(r.rating), 0) FROM rating r WHERE r.prompt_id = p.id), 0 FROM prompt p")
    op.execute("UPDATE prompt_stats SET mean_rating = rating_sum * 1.0 / rating_count WHERE rating_count > 0")
    op.create_index("ix_prompt_stats_mean_rating", "prompt_stats", ["mean_rating", "rating_count", "prompt_id"])
    op.create_index("ix_prompt_stats_sample_count", "prompt_stats", ["sample_count", "prompt_id"])
    op.create_index("ix_audio_sample_adapter_prompt", "audio_sample", ["adapter_id", "prompt_id"], unique=False)

    op.create_table(
        "prompt_favourite",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.PrimaryKeyConstraint("user_id", "prompt_id"),
    )
    op.create_index("ix_prompt_favourite_prompt", "prompt_favourite", ["prompt_id"], unique=False)
    templates = op.create_table(
        "prompt_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _STR(length=80), nullable=False),
        sa.Column("name_key", _STR(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("style", _STR(length=200), nullable=True),
        sa.Column("tempo", sa.Integer(), nullable=True),
        sa.Column("instruments", sa.JSON(), nullable=False),
        sa.Column("mood", _STR(length=200), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key"),
        sqlite_autoincrement=True,
    )
    now = datetime.now(UTC)
    op.bulk_insert(templates, [
        {"name": name, "name_key": name.casefold(), "text": text, "style": style, "tempo": tempo,
         "instruments": instruments, "mood": mood, "builtin": True, "created_by": None, "created_at": now,
         "updated_at": now}
        for name, text, style, tempo, instruments, mood in BUILTIN_TEMPLATES
    ])

    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("prompt_fts_insert", "prompt_fts_update", "prompt_fts_delete", "prompt_stats_insert",
                        "prompt_stats_delete", "prompt_count_sample",
                        "prompt_uncount_sample", "prompt_count_rating", "prompt_uncount_rating"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS prompt_fts")
    else:
        for trigger, table in (("prompt_search", "prompt"), ("prompt_stats_insert", "prompt"),
                               ("prompt_stats_delete", "prompt"), ("prompt_count_sample", "audio_sample"),
                               ("prompt_uncount_sample", "audio_sample"), ("prompt_count_rating", "rating"),
                               ("prompt_uncount_rating", "rating")):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in ("td_prompt_search", "td_prompt_added", "td_prompt_removed", "td_prompt_sample_added",
                         "td_prompt_sample_removed", "td_prompt_rating_added", "td_prompt_rating_removed"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.drop_index("ix_prompt_search", table_name="prompt")
        op.drop_column("prompt", "search_vector")
    op.drop_table("prompt_template")
    op.drop_index("ix_prompt_favourite_prompt", table_name="prompt_favourite")
    op.drop_table("prompt_favourite")
    op.drop_index("ix_audio_sample_adapter_prompt", table_name="audio_sample")
    op.drop_table("prompt_stats")
