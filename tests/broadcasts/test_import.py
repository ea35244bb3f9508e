"""CSV import: bad rows reported with line and reason, good rows imported, re-import idempotent."""
from __future__ import annotations

import io

from broadcasts.importer import ContactImporter

CSV = """phone,name,gender,shoe_size,city,tags,opt_in
+919812345001,Asha,female,7,Pune,vip;newsletter,yes
9812345002,Ravi,male,9,Delhi,newsletter,no
not-a-phone,Bad,female,6,Pune,,yes
+919812345004,Meera,purple,6,Pune,,yes
+919812345005,Kiran,female,big,Goa,,yes
"+91 98123 45006","Devi, A.",female,8.5,Mumbai,,yes
+919812345001,Dup,female,7,Pune,,yes
+919812345008,Too,many,cells,here,x,yes,extra
+919812345009,Lata,female,6,Pune,,maybe
"""


async def test_bad_rows_are_reported_and_good_rows_import(ctx):
    importer = ContactImporter(ctx.contacts, ctx.ledger, batch=2)
    report = await importer.run(io.BytesIO(CSV.encode()))
    errors = dict(report.errors)
    assert set(errors) == {4, 5, 6, 8, 9, 10}
    assert "phone" in errors[4]
    assert "gender" in errors[5] and "female" in errors[5]
    assert "shoe_size" in errors[6]
    assert "duplicate" in errors[8] and "line 2" in errors[8]
    assert "cells" in errors[9]
    assert "opt_in" in errors[10]
    assert report.counts.inserted == 3 and report.failed == 6 and report.rows == 9
    asha = await ctx.contacts.get("919812345001")
    assert asha["attrs"] == {"gender": "female", "shoe_size": 7, "city": "Pune"}
    assert sorted(asha["tags"]) == ["newsletter", "vip"]
    assert asha["consent"]["marketing"]["state"] == "opted_in"
    devi = await ctx.contacts.get("919812345006")
    assert devi["name"] == "Devi, A." and devi["attrs"]["shoe_size"] == 8.5
    ravi = await ctx.contacts.get("919812345002")
    assert "consent" not in ravi


async def test_reimport_changes_nothing(ctx):
    rows = "\n".join(f"+9198100{i:05d},N{i},{'female' if i % 2 else 'male'},{i % 12},City{i % 7},t{i % 3},yes"
                     for i in range(2000))
    data = ("phone,name,gender,shoe_size,city,tags,opt_in\n" + rows + "\n").encode()
    importer = ContactImporter(ctx.contacts, ctx.ledger, batch=500)
    first = await importer.run(io.BytesIO(data))
    assert (first.counts.inserted, first.counts.updated, first.failed, first.opt_ins) == (2000, 0, 0, 2000)
    before = [d async for d in ctx.contacts.col.find().sort("_id", 1)]
    ledger_before = await ctx.db["consent_ledger"].count_documents({})
    second = await importer.run(io.BytesIO(data))
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged, second.opt_ins) == (0, 0, 2000, 0)
    assert [d async for d in ctx.contacts.col.find().sort("_id", 1)] == before
    assert await ctx.db["consent_ledger"].count_documents({}) == ledger_before == 2000


async def test_header_without_phone_is_refused(ctx):
    report = await ContactImporter(ctx.contacts).run(io.BytesIO(b"name,city\nA,B\n"))
    assert report.errors == [(1, "header has no 'phone' column")] and report.counts.inserted == 0
