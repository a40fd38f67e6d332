"""The schema as append-only migrations. Never edit a migration that has shipped: add a new one.

It grows with every migration and stays one module on purpose: read top to bottom, it is the schema's history, in the
order every database applies it."""

from __future__ import annotations

import json

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("engagebot")

# What a stored Teams conversation reference keeps (see conversation_refs_without_members): the bot, the channel's
# conversation, the connector.
REFERENCE_FIELDS = ("bot", "conversation", "channelId", "serviceUrl")
CONVERSATION_FIELDS = ("id", "isGroup", "conversationType", "tenantId", "tenantID")  # botbuilder writes tenantID


@migrations()
def m001_core(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            theme TEXT NOT NULL,
            text TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            UNIQUE (theme, text)
        );
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL CHECK (platform IN ('slack', 'teams')),
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            prompt_id INTEGER REFERENCES prompts(id),
            theme TEXT NOT NULL,
            prompt TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            UNIQUE (platform, channel_id, message_id)
        );
        CREATE INDEX idx_posts_posted_at ON posts (posted_at);
        CREATE INDEX idx_posts_channel ON posts (platform, channel_id, posted_at);

        CREATE TABLE members (
            member_id TEXT PRIMARY KEY,
            platform TEXT NOT NULL CHECK (platform IN ('slack', 'teams')),
            user_id TEXT NOT NULL,
            display_name TEXT
        );
        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES posts(id),
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            member_id TEXT NOT NULL REFERENCES members(member_id),
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            edited_at TEXT,
            UNIQUE (platform, channel_id, message_id)
        );
        CREATE INDEX idx_replies_created_at ON replies (created_at, post_id, member_id);
        CREATE INDEX idx_replies_post ON replies (post_id, created_at);
        CREATE INDEX idx_replies_member ON replies (member_id, created_at);

        CREATE TABLE reactions (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            target_id TEXT NOT NULL,
            member_id TEXT NOT NULL REFERENCES members(member_id),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT,
            post_id INTEGER REFERENCES posts(id),
            reply_id INTEGER REFERENCES replies(id) ON DELETE CASCADE,
            UNIQUE (platform, channel_id, target_id, member_id, name)
        );
        CREATE INDEX idx_reactions_created_at ON reactions (created_at, post_id, member_id);
        CREATE INDEX idx_reactions_post ON reactions (post_id);
        CREATE INDEX idx_reactions_member ON reactions (member_id, created_at);
        CREATE INDEX idx_reactions_reply ON reactions (reply_id);

        CREATE TABLE optouts (
            member_id TEXT PRIMARY KEY,
            opted_out_at TEXT NOT NULL
        );
        CREATE TABLE seen_events (
            event_key TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            seen_at TEXT NOT NULL
        );
        CREATE TABLE deleted_messages (
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            deleted_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id, message_id)
        );
        """
    )


@migrations()
def m002_scheduling_and_teams(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE schedule_runs (
            kind TEXT NOT NULL CHECK (kind IN ('prompt', 'summary')),
            slot TEXT NOT NULL,
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('claimed', 'done', 'failed', 'skipped')),
            claimed_at TEXT NOT NULL,
            finished_at TEXT,
            message_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            PRIMARY KEY (kind, slot, platform, channel_id)
        );
        CREATE TABLE conversation_refs (
            channel_id TEXT PRIMARY KEY,
            team_id TEXT,
            tenant_id TEXT,
            service_url TEXT NOT NULL,
            reference TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m003_erasure_audit(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY,
            member_id TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            erased_at TEXT NOT NULL,
            replies INTEGER NOT NULL,
            reactions INTEGER NOT NULL
        );
        """
    )


@migrations()
def m004_consents(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE consents (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('capture', 'quote')),
            given_at TEXT NOT NULL,
            PRIMARY KEY (member_id, kind)
        );
        """
    )


@migrations()
def m005_summary_indexes(db: Database) -> None:
    # A week's summary asks for the first counted reaction of every participant (new vs returning): this
    # partial index holds exactly the counted reactions, with every column that query reads, so each member
    # is one index seek without a table lookup.
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS idx_reactions_counted_member
            ON reactions (member_id, created_at, post_id, removed_at)
            WHERE post_id IS NOT NULL AND removed_at IS NULL;
        """
    )


@migrations()
def m006_schedule_in_doubt(db: Database) -> None:
    # A post the platform may have accepted puts its slot "in_doubt" (resolved by asking the platform), or
    # "unresolved" when the platform cannot tell; each attempt notes the prompt it posts, so that a post found later
    # is recorded with it. SQLite cannot change a CHECK constraint in place: the table is rebuilt (copy, drop,
    # rename). Nothing references schedule_runs, so this is safe with foreign keys on, and it runs statement by
    # statement inside this migration's transaction (executescript would commit first). A row left "claimed" by an
    # earlier version was posted without a marker and can never be checked: it becomes "unresolved".
    for statement in (
        """CREATE TABLE schedule_runs_new (
            kind TEXT NOT NULL CHECK (kind IN ('prompt', 'summary')),
            slot TEXT NOT NULL,
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('claimed', 'done', 'failed', 'skipped', 'in_doubt', 'unresolved')),
            claimed_at TEXT NOT NULL,
            finished_at TEXT,
            message_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            theme TEXT,
            prompt TEXT,
            PRIMARY KEY (kind, slot, platform, channel_id)
        )""",
        """INSERT INTO schedule_runs_new
               (kind, slot, platform, channel_id, status, claimed_at, finished_at, message_id, attempts, error)
           SELECT kind, slot, platform, channel_id,
                  CASE status WHEN 'claimed' THEN 'unresolved' ELSE status END,
                  claimed_at, finished_at, message_id, attempts,
                  CASE status WHEN 'claimed' THEN 'claimed by an earlier version, which could not check it'
                              ELSE error END
           FROM schedule_runs""",
        "DROP TABLE schedule_runs",
        "ALTER TABLE schedule_runs_new RENAME TO schedule_runs",
        "CREATE INDEX idx_schedule_runs_open ON schedule_runs (claimed_at) WHERE status IN ('claimed', 'in_doubt')",
    ):
        db.execute(statement)


@migrations()
def m007_first_start(db: Database) -> None:
    # The install's first start: slots from before it are not "missed". An install that already ran keeps every
    # slot it handled, and every post it made, on or after its first start.
    db.execute("CREATE TABLE installation (id INTEGER PRIMARY KEY CHECK (id = 1), first_started_at TEXT NOT NULL)")
    db.execute(
        """INSERT INTO installation (id, first_started_at)
           SELECT 1, min(at) FROM (SELECT slot AS at FROM schedule_runs UNION ALL SELECT posted_at FROM posts)
           HAVING min(at) IS NOT NULL"""
    )


@migrations()
def m008_conversation_refs_without_members(db: Database) -> None:
    # References were saved with the member who sent the activity (user: id, name, aadObjectId) and their client's
    # locale. Keep only what a proactive post needs; secure_delete and the scrub after migrating leave no copy.
    rows = db.execute("SELECT channel_id, reference FROM conversation_refs").fetchall()
    for channel_id, text in rows:
        try:
            reference = json.loads(text)
        except ValueError:
            continue
        if not isinstance(reference, dict):
            continue
        kept = {key: reference[key] for key in REFERENCE_FIELDS if key in reference}
        conversation = kept.get("conversation")
        if isinstance(conversation, dict):
            kept["conversation"] = {key: conversation[key] for key in CONVERSATION_FIELDS if key in conversation}
        if kept != reference:
            db.execute(
                "UPDATE conversation_refs SET reference = ? WHERE channel_id = ?", [json.dumps(kept), channel_id]
            )


@migrations()
def m009_message_restores(db: Database) -> None:
    # A Teams message restored after its deletion (undeleteMessage): when, so that the deletion, if it arrives
    # after the restore, is known to be older and does not erase the restored message again.
    db.execute(
        """CREATE TABLE restored_messages (
            platform TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            restored_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id, message_id)
        )"""
    )


@migrations()
def m010_channel_names(db: Database) -> None:
    # Readable channel names for the leadership report: learnt when a prompt is posted (Slack conversations.info)
    # and when the Teams app is installed in a team (its channel listing). Never from events.
    db.executescript(
        """
        CREATE TABLE channels (
            platform TEXT NOT NULL CHECK (platform IN ('slack', 'teams')),
            channel_id TEXT NOT NULL,
            name TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id)
        );
        """
    )


@migrations()
def m011_quote_emoji_index(db: Database) -> None:
    # Who agreed to be quoted by reacting with the quote emoji: a range scan of that reaction name among the
    # counted reactions, instead of every reaction of every member (the weekly quotes, the export, the report).
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS idx_reactions_counted_name
            ON reactions (name, member_id, post_id, removed_at)
            WHERE post_id IS NOT NULL AND removed_at IS NULL;
        """
    )


@migrations()
def m012_member_watermarks(db: Database) -> None:
    # Nothing of a member that happened before `not_before` is ever stored: it moves to the time of their latest
    # opt-out or opt-in (capture consent in opt-in mode), so an opt-in never brings back the past.
    db.executescript(
        """
        CREATE TABLE member_watermarks (
            member_id TEXT PRIMARY KEY,
            not_before TEXT NOT NULL
        );
        """
    )


@migrations()
def m013_consent_withdrawals(db: Database) -> None:
    # A consent is the member's last word: a withdrawal (`quote off`, the quote emoji removed) is kept with its time,
    # so an older word arriving late (a reaction found by reconciliation) does not give consent again.
    db.executescript(
        """
        CREATE TABLE consent_withdrawals (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('capture', 'quote')),
            withdrawn_at TEXT NOT NULL,
            PRIMARY KEY (member_id, kind)
        );
        """
    )


@migrations()
def m014_pending_scrubs(db: Database) -> None:
    # Text removed by a commit whose checkpoint a reader held up: the next writer (or serve's upkeep) completes it.
    db.executescript(
        """
        CREATE TABLE pending_scrubs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            requested_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m015_text_retention(db: Database) -> None:
    # The retention purge's horizon: reply text written before it is never stored again (reconciliation included).
    db.executescript(
        """
        CREATE TABLE text_retention (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            purged_before TEXT NOT NULL
        );
        """
    )


@migrations()
def m016_dashboard(db: Database) -> None:
    # The admin dashboard's sign-in (see storage.dashboard): single-use links and sessions, each kept only as the
    # SHA-256 of its secret, with the admin's member id. A session ends by expiry, sign-out or revocation.
    db.executescript(
        """
        CREATE TABLE dashboard_tokens (
            token_hash TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE TABLE dashboard_sessions (
            id INTEGER PRIMARY KEY,
            session_hash TEXT NOT NULL UNIQUE,
            member_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            last_seen_at TEXT,
            ended_at TEXT,
            ended_by TEXT
        );
        CREATE INDEX idx_dashboard_sessions_expires ON dashboard_sessions (expires_at);
        """
    )
