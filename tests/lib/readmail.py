"""Reads mail back for the tests, with Python's standard `email` package.

    /usr/bin/python3 tests/lib/readmail.py FILE...

Prints one JSON array, an object per FILE in order:
  headers       [[name in lower case, raw value unfolded and trimmed], ...] in order
  decoded       {name in lower case: [decoded values (RFC 2047)], ...}
  content_type  {"type": "multipart/alternative", "params": {"boundary": ...}}
  parts         [{"type", "charset", "cte", "text"}] the leaf parts in order; text is
                the decoded body (str) for text/* parts, else null
  text, html    the first text/plain and text/html part with CRLF made LF, or null

Used by tests/lib/maildir.mjs (node tests reading aiosmtpd's Maildir) and by
tests/unit/test_mail.c (reading back what notify/mime.c built), so that no test
checks the product's messages with the product's own code.

Strict on purpose: a message that Python reads with defects (a missing close
boundary, bad base64, broken encoded-words ...), a charset other than UTF-8 or
US-ASCII, or bytes that are not valid text in the declared charset make it
exit 1 with the reason on stderr, instead of yielding U+FFFD.
"""
import json
import sys
from email import message_from_bytes, policy

CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}


class Bad(Exception):
    pass


def check_defects(where, defects):
    if defects:
        raise Bad(f"{where}: {', '.join(type(d).__name__ for d in defects)}")


def charset_of(part):
    cs = part.get_param("charset")
    if cs is not None and str(cs).lower() not in CHARSETS:
        raise Bad(f"charset {cs}")
    return cs


def part_text(part):
    data = part.get_payload(decode=True)
    check_defects(f"{part.get_content_type()} part", part.defects)
    cs = charset_of(part) or "us-ascii"
    try:
        return data.decode(str(cs).lower(), "strict")
    except UnicodeDecodeError as e:
        raise Bad(f"{part.get_content_type()} part is not {cs}: {e}") from e


def read(path):
    with open(path, "rb") as f:
        msg = message_from_bytes(f.read(), policy=policy.default)
    check_defects("message", msg.defects)
    headers, decoded = [], {}
    for name, raw in msg.raw_items():
        value = str(raw)
        headers.append([name.lower(), "".join(value.splitlines()).strip()])
    for name in dict.fromkeys(n for n, _ in headers):
        values = []
        raws = [v for n, v in headers if n == name]
        for h, raw in zip(msg.get_all(name, []), raws):
            check_defects(f"header {name}", getattr(h, "defects", ()))
            # email puts U+FFFD for bytes of an encoded-word that are not text in its charset.
            if "\ufffd" in str(h) and "\ufffd" not in raw:
                raise Bad(f"header {name}: an encoded-word is not valid text in its charset")
            values.append(str(h))
        decoded[name] = values
    params = {k.lower(): v for k, v in msg.get_params(header="content-type", failobj=[])[1:]}
    parts = []
    for part in msg.walk():
        check_defects(f"{part.get_content_type()} part", part.defects)
        if part.is_multipart():
            continue
        t = part.get_content_type()
        parts.append({
            "type": t,
            "charset": charset_of(part),
            "cte": part.get("content-transfer-encoding", "7bit").strip().lower(),
            "text": part_text(part) if t.startswith("text/") else None,
        })

    def first(t):
        p = next((p for p in parts if p["type"] == t), None)
        return None if p is None else p["text"].replace("\r\n", "\n")

    return {
        "headers": headers,
        "decoded": decoded,
        "content_type": {"type": msg.get_content_type(), "params": params},
        "parts": parts,
        "text": first("text/plain"),
        "html": first("text/html"),
    }


def main(argv):
    if len(argv) < 2:
        print("usage: readmail.py FILE...", file=sys.stderr)
        return 2
    out = []
    for path in argv[1:]:
        try:
            out.append(read(path))
        except (Bad, OSError, LookupError) as e:
            print(f"readmail: {path}: {e}", file=sys.stderr)
            return 1
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
