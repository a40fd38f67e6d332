"""The capture rules of SPEC §7, applied to platform-neutral events inside one storage transaction.

An adapter turns a platform payload into a :mod:`bot.events` event and calls :meth:`Capture.apply`.
The event's whole effect, and the mark that it has been seen, commit together before ``apply`` returns,
so an acknowledged event is durable and a retried one changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.capture_store import CaptureStore, Outcome, Submit
from bot.events import (
    CaptureEvent,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
    ReplyRestored,
    member_id,
)
from bot.model import MemberGate, PostRecord, ReactionState, ReplyTarget

logger = logging.getLogger(__name__)

__all__ = ["Capture", "CaptureStore", "Outcome"]


class Capture:
    """Applies capture events to storage by the rules of SPEC §7 and the members' choices (SPEC §9).

    Whatever path an event takes (a live delivery, a retry, reconciliation), these rules decide what is stored:

    - nothing of an opted-out member; in opt-in mode (``require_opt_in``) nothing of a member without consent;
    - nothing of a member that happened before their watermark, the time of their latest opt-in or opt-out: a reply
      by its own time (also when it first arrives as an edit), a reaction by its own time, and a member's reaction
      to their own reply by that reply's time too. An opt-in never brings back the past;
    - a reaction in a thread that is not a prompt's (when the platform names the thread) is never stored;
    - a reaction whose target is not known yet is kept (uncounted, until its reply arrives) only if it can still
      count: in a channel that has had a prompt, on a message newer than the channel's first prompt and not written
      by someone whose message can never be stored;
    - reply text older than the retention purge's horizon is never stored again;
    - the quote emoji (``quote_emoji``) on a prompt or reply says "quote me", and removing it says "stop", each at
      the reaction's time: it counts only if newer than the member's last word (see storage.members).
    """

    def __init__(self, store: CaptureStore, *, require_opt_in: bool = False, quote_emoji: str | None = None) -> None:
        self.store = store
        self.require_opt_in = require_opt_in  # consent = "opt-in": only members who opted in are captured
        self.quote_emoji = quote_emoji

    def allows(self, member: str, at: datetime) -> bool:
        """Whether something ``member`` did at ``at`` may be stored."""
        return self.store.member_gate(member).allows(at, consent_required=self.require_opt_in)

    def _refusal(self, member: str) -> Outcome:
        return self._refused(self.store.member_gate(member))

    def _refused(self, gate: MemberGate) -> Outcome:
        """Why a gate that does not allow something refused it."""
        blocked = gate.opted_out or (self.require_opt_in and not gate.capture_consent)
        return Outcome.OPTED_OUT if blocked else Outcome.BEFORE_OPT_IN

    def apply(self, event: CaptureEvent) -> Outcome:
        with self.store.transaction():
            # The delivery's key is marked seen first (one statement, which also says whether it was seen before),
            # and unmarked when the event changed nothing: it is kept exactly when the effect is.
            key = event.event_key
            if key and not self.store.mark_event_seen(key, event.platform):
                return Outcome.DUPLICATE
            outcome = self._apply(event)
            if key and outcome is not Outcome.STORED:
                self.store.unmark_event_seen(key)
        logger.debug("capture %s platform=%s outcome=%s", type(event).__name__, event.platform, outcome)
        return outcome

    async def apply_async(self, event: CaptureEvent) -> Outcome:
        """:meth:`apply` for the event loop: the same rules, atomic per event, committed when this returns. When the
        store has a writer thread (``submit``: :meth:`storage.db.SQLiteDatabase.submit`) the rules run there, in a
        batch whose COMMIT (one fsync) is shared with the events queued meanwhile; the event loop never waits for
        SQLite."""
        [outcome] = await self.apply_all_async([event])
        return outcome

    async def apply_all_async(self, events: Sequence[CaptureEvent]) -> list[Outcome]:
        """The events of one delivery (a Teams activity may add and remove reactions) as one unit: every one is
        committed, or none (an error raised by one rolls back all of them)."""
        submit: Submit | None = getattr(self.store, "submit", None)
        if submit is None:
            return [self.apply(event) for event in events]
        return await submit(lambda: [self.apply(event) for event in events])

    def _apply(self, event: CaptureEvent) -> Outcome:
        match event:
            case ReplyPosted():
                return self._reply_posted(event)
            case ReplyEdited():
                return self._reply_edited(event)
            case ReplyDeleted():
                return self._reply_deleted(event)
            case ReplyRestored():
                return self._reply_restored(event)
            case ReactionAdded() | ReactionRemoved():
                return self._reaction(event)
        raise TypeError(f"not a capture event: {event!r}")  # pragma: no cover - exhaustive match

    def _reply_posted(self, event: ReplyPosted) -> Outcome:
        store = self.store
        post = store.find_post(event.platform, event.channel_id, event.thread_id)
        if post is None or event.message_id == post.message_id:
            return Outcome.IGNORED  # a top-level message or a thread that is not a prompt
        member = member_id(event.platform, event.user_id)
        target = store.reply_target(event.platform, event.channel_id, event.message_id, member)
        if not target.gate.allows(event.occurred_at, consent_required=self.require_opt_in):
            return self._refused(target.gate)
        if target.stored:
            return Outcome.DUPLICATE  # the same message delivered again under another event id
        if target.deleted:
            return Outcome.IGNORED  # its deletion arrived first
        return self._store_reply(post, event, member, event.text, event.occurred_at, None, target)

    def _reply_edited(self, event: ReplyEdited) -> Outcome:
        store = self.store
        reply = store.find_reply(event.platform, event.channel_id, event.message_id)
        if reply is not None:
            # A stored reply takes its author's latest text (an edit may remove what they regret), unless they
            # opted out since, or its text is past the retention horizon.
            gate = store.member_gate(reply.member_id)
            if gate.opted_out or (self.require_opt_in and not gate.capture_consent):
                return Outcome.OPTED_OUT
            if self._text_expired(reply.created_at):
                return Outcome.IGNORED
            changed = store.update_reply_text(reply.id, event.text, event.occurred_at)
            return Outcome.STORED if changed else Outcome.IGNORED
        # The edit arrived before the reply it changes (or the reply was missed): store the reply as edited,
        # when the edit says which thread and who wrote it.
        if event.thread_id is None or event.user_id is None or event.original_at is None:
            return Outcome.IGNORED
        if store.is_deleted(event.platform, event.channel_id, event.message_id):
            return Outcome.IGNORED
        post = store.find_post(event.platform, event.channel_id, event.thread_id)
        if post is None or event.message_id == post.message_id:
            return Outcome.IGNORED
        member = member_id(event.platform, event.user_id)
        if not self.allows(member, event.original_at):  # an old message edited now is still an old message
            return self._refusal(member)
        return self._store_reply(post, event, member, event.text, event.original_at, event.occurred_at)

    def _store_reply(
        self,
        post: PostRecord,
        event: ReplyPosted | ReplyEdited,
        member: str,
        text: str,
        at: datetime,
        edited_at: datetime | None,
        target: ReplyTarget | None = None,
    ) -> Outcome:
        """Store the reply (``target``: what is known of the message already, else it is asked for)."""
        store = self.store
        assert event.user_id is not None
        self._member(member, event.platform, event.user_id, event.display_name, target)
        horizon = store.text_purged_before() if target is None else target.text_purged_before
        text = "" if horizon is not None and at < horizon else text
        reply = store.insert_reply(post, event.message_id, member, text, at, edited_at)
        if target is not None and not target.early_reactions:
            return Outcome.STORED
        resolved = store.resolve_reactions(event.platform, event.channel_id, event.message_id, post.id, reply.id)
        for reaction in resolved:  # a quote emoji that arrived before its reply counts now
            if reaction.removed_at is None:
                self._quote_word(reaction.member_id, reaction.name, True, reaction.created_at)
        return Outcome.STORED

    def _member(
        self,
        member: str,
        platform: Platform,
        user_id: str,
        display_name: str | None,
        known: ReplyTarget | ReactionState | None,
    ) -> None:
        """The member's row, with the display name the event carries; not written again when it is stored as is."""
        if known is not None and known.member_stored and display_name in (None, known.member_name):
            return
        self.store.upsert_member(member, platform, user_id, display_name)

    def _text_expired(self, written_at: datetime) -> bool:
        """Retention: text written before the purge's horizon is never stored, so reconciliation (which may look
        further back than the retention period) cannot bring purged text back."""
        horizon = self.store.text_purged_before()
        return horizon is not None and written_at < horizon

    def _reply_deleted(self, event: ReplyDeleted) -> Outcome:
        store = self.store
        if store.restored_since(event.platform, event.channel_id, event.message_id, event.occurred_at):
            return Outcome.IGNORED  # the message was restored after this deletion (the restore arrived first)
        reply = store.find_reply(event.platform, event.channel_id, event.message_id)
        if reply is not None:
            store.delete_reply(reply.id)  # its reactions go with it, and member rows left with nothing
            store.mark_deleted(event.platform, event.channel_id, event.message_id, event.occurred_at)
            return Outcome.STORED
        thread_known = event.thread_id is None or store.find_post(event.platform, event.channel_id, event.thread_id)
        if thread_known and not store.find_post(event.platform, event.channel_id, event.message_id):
            # Remember the deletion so the reply, if it arrives late, is never stored.
            store.mark_deleted(event.platform, event.channel_id, event.message_id, event.occurred_at)
            return Outcome.STORED
        return Outcome.IGNORED

    def _reply_restored(self, event: ReplyRestored) -> Outcome:
        """A restore lifts the deletion it undoes (one made at or before it), so the message may be captured again:
        from the restored payload when it carries the message, else from its next edit. A deletion that happened
        after the restore still stands, whatever the order they arrive in."""
        store = self.store
        platform, channel, message = event.platform, event.channel_id, event.message_id
        if store.find_post(platform, channel, message) is not None:
            return Outcome.IGNORED  # a prompt of ours, not a reply
        store.mark_restored(platform, channel, message, event.occurred_at)
        if store.is_deleted(platform, channel, message):
            return Outcome.IGNORED  # deleted again after this restore
        if event.text and event.thread_id and event.user_id and event.original_at:
            restored = ReplyPosted(
                platform=platform,
                channel_id=channel,
                occurred_at=event.original_at,
                thread_id=event.thread_id,
                message_id=message,
                user_id=event.user_id,
                text=event.text,
                display_name=event.display_name,
            )
            self._reply_posted(restored)  # the capture rules of a reply: a prompt's thread, not opted out, once
        return Outcome.STORED

    def _reaction(self, event: ReactionAdded | ReactionRemoved) -> Outcome:
        store = self.store
        if event.thread_id is not None and store.find_post(event.platform, event.channel_id, event.thread_id) is None:
            return Outcome.IGNORED  # in a thread that is not a prompt's: it can never count
        member = member_id(event.platform, event.user_id)
        state = store.reaction_state(event.platform, event.channel_id, event.target_id, member, event.name)
        if not state.gate.allows(event.occurred_at, consent_required=self.require_opt_in):
            return self._refused(state.gate)
        post_id: int | None = None
        reply_id: int | None = None
        post = store.find_post(event.platform, event.channel_id, event.target_id)
        if post is not None:
            post_id = post.id
        else:
            reply, deleted = store.find_reply_or_deletion(event.platform, event.channel_id, event.target_id)
            if reply is not None:
                own = reply.member_id == member
                if own and not state.gate.allows(reply.created_at, consent_required=self.require_opt_in):
                    return Outcome.BEFORE_OPT_IN  # the member's own message from before their opt-in
                post_id, reply_id = reply.post_id, reply.id
            elif deleted or not self._may_count(event):
                return Outcome.IGNORED
        present = isinstance(event, ReactionAdded)
        display = event.display_name if isinstance(event, ReactionAdded) else None
        self._member(member, event.platform, event.user_id, display, state)
        # A reaction whose target is not (yet) known is kept unresolved: it counts once its reply arrives.
        changed = store.set_reaction(
            platform=event.platform,
            channel_id=event.channel_id,
            target_id=event.target_id,
            member=member,
            name=event.name,
            at=event.occurred_at,
            present=present,
            post_id=post_id,
            reply_id=reply_id,
            known=state,
        )
        if changed and post_id is not None:
            self._quote_word(member, event.name, present, event.occurred_at)
        return Outcome.STORED if changed else Outcome.IGNORED

    def _may_count(self, event: ReactionAdded | ReactionRemoved) -> bool:
        """Whether a reaction to a message not (yet) known may still become counted: only then is it kept."""
        first = self.store.first_post_at(event.platform, event.channel_id)
        if first is None:
            return False  # a channel that never had a prompt (on Teams, also another team's channel)
        if event.target_at is not None and event.target_at <= first:
            return False  # older than the channel's first prompt: not a reply in a prompt's thread
        if event.target_user_id is not None:
            author = member_id(event.platform, event.target_user_id)
            # The target was written before the reaction: if its author may not be stored then, it never is.
            return self.allows(author, event.target_at or event.occurred_at)
        return True

    def _quote_word(self, member: str, name: str, present: bool, at: datetime) -> None:
        """The quote emoji on a prompt or reply, added or removed at ``at``: the member's word on being quoted."""
        if self.quote_emoji is None or name != self.quote_emoji:
            return
        if not present and self.store.has_counted_reaction(member, name):
            return  # another quote emoji of theirs is still in place: it still says yes
        self.store.consent_word(member, "quote", present, at)
