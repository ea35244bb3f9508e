"""Consent precedence (pure rules) and the ledger's derived copies (contact, Redis fast path)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from broadcasts.consent import Action, Entry, Source, State, allows, derive
from connectors import keys

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def e(minutes: int, action: Action, source: Source = Source.API, category: str = "marketing") -> Entry:
    return Entry("91", category, action, source, T0 + timedelta(minutes=minutes))


def test_no_entries_means_unknown():
    assert derive([]) is None
    assert not allows(None, "marketing") and allows(None, "utility")


def test_opt_out_wins_over_older_opt_in_in_any_order():
    entries = [e(0, Action.OPT_IN), e(5, Action.OPT_OUT, Source.STOP_KEYWORD)]
    assert derive(entries).state is State.OPTED_OUT
    assert derive(list(reversed(entries))).state is State.OPTED_OUT


def test_simultaneous_opt_out_wins():
    assert derive([e(1, Action.OPT_OUT), e(1, Action.OPT_IN)]).state is State.OPTED_OUT


def test_later_explicit_opt_in_re_enables_but_import_does_not():
    out = e(5, Action.OPT_OUT, Source.USER_PREFERENCES)
    assert derive([out, e(9, Action.OPT_IN, Source.BOT)]).state is State.OPTED_IN
    assert derive([out, e(9, Action.OPT_IN, Source.IMPORT)]).state is State.OPTED_OUT
    assert derive([out, e(9, Action.OPT_IN, Source.IMPORT), e(10, Action.OPT_IN, Source.API)]).state is State.OPTED_IN


async def test_ledger_keeps_fast_path_and_contact_in_sync(ctx):
    wa = "919812340000"
    await ctx.ledger.record(wa, "marketing", Action.OPT_IN, Source.API, T0, ref="a")
    assert await ctx.ledger.allows(wa, category="marketing")
    assert not await ctx.redis.exists(keys.consent_optout(wa))
    await ctx.ledger.record(wa, "marketing", Action.OPT_OUT, Source.STOP_KEYWORD, T0 + timedelta(hours=1), ref="b")
    assert await ctx.redis.exists(keys.consent_optout(wa))
    assert not await ctx.ledger.allows(wa, category="marketing")
    assert await ctx.ledger.allows(wa, category="utility")
    assert not await ctx.ledger.allows(wa, category="utility", campaign=True)
    # an older opt-in arriving late changes nothing; a repeat of an entry is ignored
    await ctx.ledger.record(wa, "marketing", Action.OPT_IN, Source.BOT, T0 + timedelta(minutes=30), ref="c")
    await ctx.ledger.record(wa, "marketing", Action.OPT_OUT, Source.STOP_KEYWORD, T0 + timedelta(hours=1), ref="b")
    assert (await ctx.ledger.current(wa, "marketing")).state is State.OPTED_OUT
    assert len(await ctx.ledger.entries(wa)) == 3
    await ctx.ledger.record(wa, "marketing", Action.OPT_IN, Source.API, T0 + timedelta(hours=2), ref="d")
    assert await ctx.ledger.allows(wa, category="marketing")
    assert not await ctx.redis.exists(keys.consent_optout(wa))
    contact = await ctx.contacts.get(wa)
    assert contact["consent"]["marketing"]["state"] == "opted_in"
