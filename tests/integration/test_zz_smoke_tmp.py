import json
from tests.plugins.platform import reply_text, reply_buttons

def test_smoke(platform):
    c = platform.new_customer()
    for msg in ["hi", "where is my order", "PS-10004", "STOP", "/opt_in", "/restart", "qwzx plorb vrenk", "blorptastic zzgrm kkv", "talk to a human"]:
        r = c.ask(msg)
        print(repr(msg), "->", [ (reply_text(m), reply_buttons(m)) for m in r])
    print(json.dumps(c.replies()[0])[:1500])
    print(c.ownership())
    for e in c.events():
        if not e["type"].startswith("message."): print(e)
